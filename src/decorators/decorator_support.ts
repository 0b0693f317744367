import type { AnyFunction } from '../tags/naming';
import { Cache } from '../cache';
import type { Duration } from '../engine/duration';
import type { TtlOption } from '../engine/ttl';
import type { FreshnessOptions } from '../engine/freshness';
import type { LoadTimeouts, LockOptions } from '../engine/options';
import { CacheConfigError } from '../errors';
import { argsKey } from '../engine/keys';
import { getDefaultCache } from './default_cache';
import { receiverClassName } from './method_decorator';
import type { TagSpec } from './tag_specs';

/** Which cache a decorator uses: a `Cache`, or a function of the instance returning one. */
export type CacheOption = Cache | ((self: any) => Cache);

/** Options every cache decorator takes. */
export interface DecoratorCacheOptions {
  /**
   * The cache. Default: the instance's `cache` property when it holds a `Cache`, else the one
   * registered with `setDefaultCache`. Resolved at call time, never at import time.
   */
  cache?: CacheOption;
  /** A namespace of that cache to use instead of its root. */
  namespace?: string;
}

/** Entry settings that the storing decorators (`@Cacheable`, `@CachePut`) pass to the engine. */
export interface EntryDecoratorOptions<R> extends FreshnessOptions {
  /** Soft and hard limits on waiting for the method (see `LoadTimeouts`). */
  timeouts?: LoadTimeouts;
  /** Encrypt the cached result in L2 (needs the cache's `encryption` keys). */
  encrypt?: boolean;
  /** Let one process in the cluster run the method for a cold key (needs a store with locks). */
  lock?: boolean | LockOptions;
  /** TTL: ms, `'5m'`-style, or a function of the result. */
  ttl?: TtlOption<R>;
  /** ± fraction of the TTL to spread expirations by. */
  jitter?: number;
  /** Reset the TTL on every read. */
  sliding?: boolean;
  /** TTL of `null`/`undefined` results, or `false` not to cache them. */
  negativeTtl?: Duration | false;
  /** A named policy of the cache; the decorator's own options override it. */
  policy?: string;
  /** When it returns true for a result, that result is returned but not stored. */
  unless?: (result: R) => boolean;
}

const namespaces = new WeakMap<Cache, Map<string, Cache>>();

/** Resolves the cache for one call; `where` names the method in the error. */
export function resolveCache(self: unknown, options: DecoratorCacheOptions, where: string): Cache {
  let cache: unknown = options.cache;
  if (typeof cache === 'function') cache = (cache as (s: unknown) => Cache)(self);
  if (cache === undefined) {
    const own = (self as { cache?: unknown } | null | undefined)?.cache;
    cache = own instanceof Cache ? own : getDefaultCache();
  }
  if (!(cache instanceof Cache)) {
    throw new CacheConfigError(
      'cache',
      cache,
      `${where} has no cache: pass { cache }, give the instance a "cache" property holding a Cache, or call setDefaultCache()`,
    );
  }
  const ns = options.namespace;
  if (ns === undefined) return cache;
  let byName = namespaces.get(cache);
  if (byName === undefined) namespaces.set(cache, (byName = new Map()));
  let sub = byName.get(ns);
  if (sub === undefined) byName.set(ns, (sub = cache.namespace(ns)));
  return sub;
}

/**
 * The default key of a call: `Class.method:` and the stable encoding of the arguments. The
 * class is the receiver's, so two classes with a method of the same name never share keys.
 */
export function defaultKey(self: unknown, method: string, args: readonly unknown[]): string {
  return `${receiverClassName(self)}.${method}:${argsKey(args)}`;
}

/** Tags recorded by @CacheTags before the method was wrapped by @Cacheable (decorators apply bottom-up). */
const pendingTags = new WeakMap<AnyFunction, TagSpec[]>();
/** The tag list of each @Cacheable wrapper, which @CacheTags applied above it extends. */
const wrapperTags = new WeakMap<AnyFunction, TagSpec[]>();

/** Records tags for a method, whichever order @CacheTags and @Cacheable were stacked in. */
export function addMethodTags(fn: AnyFunction, specs: readonly TagSpec[]): void {
  const live = wrapperTags.get(fn);
  if (live !== undefined) {
    live.push(...specs);
    return;
  }
  let list = pendingTags.get(fn);
  if (list === undefined) pendingTags.set(fn, (list = []));
  list.push(...specs);
}

/** Called by @Cacheable: the tags @CacheTags gave the original so far, in a list later ones extend. */
export function adoptMethodTags(
  original: AnyFunction,
  wrapper: AnyFunction,
  own: readonly TagSpec[],
): TagSpec[] {
  const list = [...own, ...(pendingTags.get(original) ?? [])];
  wrapperTags.set(wrapper, list);
  return list;
}
