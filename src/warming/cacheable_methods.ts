import type { Cache, CacheKey } from '../cache';

/** What `@Cacheable` tells the warming feature about a method it wrapped. */
export interface CacheableMethodInfo {
  /** The method's name as declared. */
  readonly method: string;
  /** True when the method opted in to replay warming (`@Cacheable({ replay: true })`). */
  readonly replay: boolean;
  /** The decorator's `policy` option: a method warmer of this method belongs to that policy. */
  readonly policy: string | undefined;
  /** The cache and key a call would use, or `undefined` when the decorator's condition bypasses the cache. */
  entryOf(self: unknown, args: unknown[]): { cache: Cache; key: CacheKey } | undefined;
}

/*
 * Keyed by the wrapper function itself, so it describes exactly what sits on the prototype;
 * a WeakMap, so that classes made and dropped at run time (tests do) are not pinned.
 */
const methods = new WeakMap<object, CacheableMethodInfo>();

/** Called by `@Cacheable` for each wrapper it builds. */
export function registerCacheableMethod(wrapper: object, info: CacheableMethodInfo): void {
  methods.set(wrapper, info);
}

/** The `@Cacheable` description of a function, or `undefined` when it is not a `@Cacheable` wrapper. */
export function cacheableMethodInfo(fn: unknown): CacheableMethodInfo | undefined {
  return typeof fn === 'function' ? methods.get(fn) : undefined;
}
