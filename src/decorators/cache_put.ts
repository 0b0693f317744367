import type { AnyFunction } from '../tags/naming';
import type { CacheKey } from '../cache';
import type { CallOptions } from '../engine/options';
import { CacheConfigError } from '../errors';
import { tableTag } from '../tags/naming';
import {
  type DecoratorCacheOptions,
  defaultKey,
  type EntryDecoratorOptions,
  resolveCache,
} from './decorator_support';
import { type AnyMethod, methodDecorator, type TypedMethodDecorator } from './method_decorator';
import { isClass, resolveTags, type TagSpec, validateTagSpecs } from './tag_specs';

/** Options of `@CachePut`. */
export interface CachePutOptions<A extends any[] = any[], R = any>
  extends DecoratorCacheOptions, EntryDecoratorOptions<R> {
  /** The key to store under (use the same function as the `@Cacheable` reading it). */
  key?: (...args: A) => CacheKey;
  /** Tags of the stored entry: names, entity classes, `[Entity, (args) => id]`, or functions of `(args, result)`. */
  tags?: readonly TagSpec[];
}

/**
 * Always runs the method, then stores its result. The store never fails the call: a cache
 * problem is reported on the cache's `error` event.
 */
export function CachePut<A extends any[] = any[], R = any>(
  options: CachePutOptions<A, R> = {},
): TypedMethodDecorator<A> {
  if (options.tags !== undefined) {
    if (!Array.isArray(options.tags))
      throw new CacheConfigError('tags', options.tags, 'expected an array of tags');
    validateTagSpecs('tags', options.tags);
  }
  const specs = options.tags ?? [];
  return methodDecorator('CachePut', (original, info) => {
    const where = `@CachePut ${info.name}()`;
    const wrapper: AnyMethod = function (this: unknown, ...args: any[]) {
      const cache = resolveCache(this, options, where);
      const k =
        options.key !== undefined ? options.key.apply(this, args as A) : defaultKey(this, info.name, args);
      return Promise.resolve(original.apply(this, args)).then(async (result: R) => {
        if (options.unless?.(result)) return result;
        const call: CallOptions<R> = {
          ttl: options.ttl,
          jitter: options.jitter,
          sliding: options.sliding,
          negativeTtl: options.negativeTtl,
          grace: options.grace,
          graceBackoff: options.graceBackoff,
          graceOnInvalidate: options.graceOnInvalidate,
          refreshAhead: options.refreshAhead,
          earlyRefresh: options.earlyRefresh,
          adaptiveTtl: options.adaptiveTtl,
          encrypt: options.encrypt,
          policy: options.policy,
          tags: specs.length > 0 ? resolveTags(specs.map(fixClass), args, result) : undefined,
        };
        await cache.set(k, result, call);
        return result;
      });
    };
    return wrapper;
  });
}

function fixClass(s: TagSpec): TagSpec {
  return isClass(s) ? tableTag(s as AnyFunction) : s;
}
