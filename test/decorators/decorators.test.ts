import 'reflect-metadata';
import { Cache, CacheConfigError, Cacheable } from '../../src';
import { describeDecoratorSuite } from './decorator_suite';

describeDecoratorSuite('legacy');

describe('legacy decorators with Reflect metadata', () => {
  const cache = new Cache();

  /** A decorator of the kind NestJS uses: it stores metadata on the method function itself. */
  const Route =
    (path: string): MethodDecorator =>
    (_t, _k, d: PropertyDescriptor) => {
      Reflect.defineMetadata('route', path, d.value);
    };

  test('metadata attached by other decorators survives, whichever order they are stacked in', async () => {
    class Controller {
      cache = cache;
      @Cacheable()
      @Route('/below')
      async below() {
        return 'b';
      }
      @Route('/above')
      @Cacheable()
      async above() {
        return 'a';
      }
    }
    expect(Reflect.getMetadata('route', Controller.prototype.below)).toBe('/below');
    expect(Reflect.getMetadata('route', Controller.prototype.above)).toBe('/above');
    expect(Reflect.getMetadata('design:returntype', Controller.prototype, 'below')).toBe(Promise);
    expect(await new Controller().below()).toBe('b');
  });

  test('a method declared to return a non-Promise is refused at decoration', () => {
    expect(() => {
      class Bad {
        @Cacheable()
        total(): number {
          return 1;
        }
      }
      return Bad;
    }).toThrow(CacheConfigError);
  });
});
