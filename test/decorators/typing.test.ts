import { Cache, Cacheable, CacheEvict } from '../../src';

/*
 * Compile-time checks: `npm run lint` type-checks this file (tsc --noEmit), and each
 * @ts-expect-error line fails the build if the mistake it marks ever compiles.
 */
const cache = new Cache();

class Typed {
  cache = cache;

  @Cacheable({ key: (id: number) => ['user', id] })
  async byId(id: number) {
    return id;
  }

  // @ts-expect-error the key function takes a number, the method a string
  @Cacheable({ key: (id: number) => ['user', id] })
  async byName(name: string) {
    return name;
  }

  @CacheEvict({ key: (id: number) => ['user', id] })
  async remove(id: number) {
    return id;
  }

  @Cacheable({ condition: (id: number, full: boolean) => id > 0 && full })
  async guarded(id: number, full: boolean) {
    return [id, full];
  }
}

describe('decorator typing', () => {
  test('well-typed decorated methods still run', async () => {
    const t = new Typed();
    expect(await t.byId(1)).toBe(1);
    expect(await t.remove(1)).toBe(1);
    expect(await t.guarded(1, true)).toEqual([1, true]);
  });
});
