import { CacheConfigError } from '../errors';

/** Any method. */
export type AnyMethod = (this: any, ...args: any[]) => any;

/** What a wrapper factory learns about the method it wraps. */
export interface MethodInfo {
  /** The method's name as declared. */
  readonly name: string;
  /** The class, when the decorator mode tells it at decoration time (legacy decorators do). */
  readonly owner: object | undefined;
  /** `design:returntype` metadata, when the compiler emitted it. */
  readonly returnType: unknown;
}

/**
 * A decorator usable both as a legacy (`experimentalDecorators`) and as a standard (TC39)
 * method decorator. TypeORM projects use the first, plain TypeScript 5+ projects the second;
 * the wrapper built for either is the same function, so semantics cannot drift.
 */
export interface MethodDecoratorBoth {
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): any;
  (value: AnyMethod, context: ClassMethodDecoratorContext): any;
}

/**
 * A dual-mode method decorator that only fits methods taking the arguments `A`: with
 * `key: (id: number) => …`, decorating a method `(id: string) => …` is a compile error.
 */
export interface TypedMethodDecorator<A extends any[]> {
  <T extends AnyMethod>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T> & Fits<A, T>,
  ): any;
  <T extends AnyMethod>(value: T & Fits<A, T>, context: ClassMethodDecoratorContext<any, T>): any;
}

/**
 * Accepts a method whose arguments start with `A` (a key function may use only the first
 * ones); otherwise demands a property no method has, which makes the mismatch a type error.
 */
type Fits<A extends any[], T extends AnyMethod> =
  Parameters<T> extends [...A, ...unknown[]]
    ? unknown
    : { 'key/condition functions must take the method arguments': A };

/** Builds a dual-mode method decorator from a function that wraps the original method. */
export function methodDecorator(
  decoratorName: string,
  wrap: (original: AnyMethod, info: MethodInfo) => AnyMethod,
): MethodDecoratorBoth {
  return function decorate(a: any, b: any, c?: any): any {
    if (typeof a === 'function' && b && typeof b === 'object' && 'kind' in b) {
      const context = b as ClassMethodDecoratorContext;
      if (context.kind !== 'method') {
        throw new CacheConfigError(
          decoratorName,
          context.kind,
          `@${decoratorName} decorates methods, not a ${context.kind}`,
        );
      }
      return finish(a, wrap(a, { name: String(context.name), owner: undefined, returnType: undefined }));
    }
    const descriptor = c as PropertyDescriptor | undefined;
    if (!descriptor || typeof descriptor.value !== 'function') {
      throw new CacheConfigError(
        decoratorName,
        String(b),
        `@${decoratorName} decorates methods, and "${String(b)}" is not one`,
      );
    }
    const getMetadata = (Reflect as { getMetadata?: (k: string, t: object, p: string | symbol) => unknown })
      .getMetadata;
    const returnType = typeof getMetadata === 'function' ? getMetadata('design:returntype', a, b) : undefined;
    descriptor.value = finish(
      descriptor.value,
      wrap(descriptor.value, { name: String(b), owner: a, returnType }),
    );
    return descriptor;
  } as MethodDecoratorBoth;
}

/**
 * Makes the wrapper look like the original to frameworks: same name and length, and the
 * Reflect metadata and own properties other decorators attached to the function itself
 * (NestJS route decorators do), so decorators stacked in any order keep working.
 */
function finish(original: AnyMethod, wrapper: AnyMethod): AnyMethod {
  if (wrapper === original) return original;
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true });
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'name' || key === 'length' || key === 'prototype' || key === 'arguments' || key === 'caller')
      continue;
    const d = Object.getOwnPropertyDescriptor(original, key);
    if (d && !Object.prototype.hasOwnProperty.call(wrapper, key)) Object.defineProperty(wrapper, key, d);
  }
  const r = Reflect as {
    getMetadataKeys?: (t: object) => unknown[];
    getOwnMetadataKeys?: (t: object) => unknown[];
    getOwnMetadata?: (k: unknown, t: object) => unknown;
    defineMetadata?: (k: unknown, v: unknown, t: object) => void;
  };
  if (typeof r.getOwnMetadataKeys === 'function' && r.getOwnMetadata && r.defineMetadata) {
    for (const k of r.getOwnMetadataKeys(original))
      r.defineMetadata(k, r.getOwnMetadata(k, original), wrapper);
  }
  return wrapper;
}

/** The class name of a call's receiver: the class for static methods, the instance's class otherwise. */
export function receiverClassName(self: unknown): string {
  if (typeof self === 'function') return self.name || 'anonymous';
  const ctor = (self as { constructor?: { name?: string } } | null | undefined)?.constructor;
  return ctor?.name || 'anonymous';
}
