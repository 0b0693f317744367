import type { Cache, CacheKey } from '../cache';
import { CacheConfigError } from '../errors';
import type { DecoratorCacheOptions } from './decorator_support';
import { resolveCache } from './decorator_support';
import { type AnyMethod, methodDecorator, type TypedMethodDecorator } from './method_decorator';
import { resolveTags, type TagSpec, validateTagSpecs } from './tag_specs';

/** Options of `@CacheEvict`: at least one of `key`, `tags` or `allEntries`. */
export interface CacheEvictOptions<A extends any[] = any[], R = any> extends DecoratorCacheOptions {
  /** The key to delete, from the call's arguments (use the same function as the `@Cacheable` it undoes). */
  key?: (...args: A) => CacheKey;
  /** Tags to invalidate: names, entity classes, `[Entity, (args) => id]`, or functions of `(args, result)`. */
  tags?: readonly TagSpec[] | ((args: A, result: R | undefined) => readonly string[]);
  /** Empty the whole cache (or its `namespace`) by a version bump; never a scan. */
  allEntries?: boolean;
  /** Evict before the method runs, even if it then throws. Default false: only after it succeeds. */
  beforeInvocation?: boolean;
}

/**
 * Evicts after a successful call (or before it, with `beforeInvocation`). A cache failure never
 * fails the method: it is reported on the cache's `error` event, and this process's L1 honours
 * the eviction regardless.
 */
export function CacheEvict<A extends any[] = any[], R = any>(
  options: CacheEvictOptions<A, R>,
): TypedMethodDecorator<A> {
  if (!options || (options.key === undefined && options.tags === undefined && options.allEntries !== true)) {
    throw new CacheConfigError('CacheEvict', options, '@CacheEvict needs key, tags or allEntries: true');
  }
  const tagOption = options.tags;
  const specs: TagSpec[] =
    tagOption === undefined ? [] : typeof tagOption === 'function' ? [tagOption as TagSpec] : [...tagOption];
  if (Array.isArray(tagOption)) validateTagSpecs('tags', specs);
  return methodDecorator('CacheEvict', (original, info) => {
    const where = `@CacheEvict ${info.name}()`;
    const wrapper: AnyMethod = function (this: unknown, ...args: any[]) {
      const cache = resolveCache(this, options, where);
      if (options.beforeInvocation) {
        return evict(cache, options, specs, this, args, undefined).then(() => original.apply(this, args));
      }
      return Promise.resolve(original.apply(this, args)).then(async (result: R) => {
        await evict(cache, options, specs, this, args, result);
        return result;
      });
    };
    return wrapper;
  });
}

async function evict(
  cache: Cache,
  options: CacheEvictOptions<any, any>,
  specs: readonly TagSpec[],
  self: unknown,
  args: any[],
  result: unknown,
): Promise<void> {
  const jobs: Promise<void>[] = [];
  if (options.allEntries) jobs.push(cache.clear());
  if (options.key !== undefined) jobs.push(cache.delete(options.key.apply(self, args)));
  if (specs.length > 0) {
    const tags = resolveTags(specs, args, result);
    if (tags.length > 0) jobs.push(cache.invalidateTags(tags));
  }
  // Failures were already counted and emitted by the cache; the method's own outcome stands.
  await Promise.allSettled(jobs);
}
