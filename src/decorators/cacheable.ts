import type { AnyFunction } from '../tags/naming';
import type { CacheKey } from '../cache';
import type { LoadContext } from '../engine/load_context';
import type { CallOptions } from '../engine/options';
import { CacheConfigError } from '../errors';
import { watchLoads } from '../engine/load_scope';
import { registerCacheableMethod } from '../warming/cacheable_methods';
import type { CallSite } from '../warming/heat_recorder';
import { tableTag } from '../tags/naming';
import {
  adoptMethodTags,
  type DecoratorCacheOptions,
  defaultKey,
  type EntryDecoratorOptions,
  resolveCache,
} from './decorator_support';
import { type AnyMethod, methodDecorator, type TypedMethodDecorator } from './method_decorator';
import { isClass, resolveTags, type TagSpec, validateTagSpecs } from './tag_specs';

/** Options of `@Cacheable`. Everything is optional; the defaults come from the cache and its policies. */
export interface CacheableOptions<A extends any[] = any[], R = any>
  extends DecoratorCacheOptions, EntryDecoratorOptions<R> {
  /** The key, from the call's arguments. Default: `Class.method:` + the stable encoding of the arguments. */
  key?: (...args: A) => CacheKey;
  /** Tags: names, entity classes, `[Entity, (args) => id]`, or functions of `(args, result)`. */
  tags?: readonly TagSpec[] | ((args: A, result: R) => readonly string[]);
  /** When it returns false, the call bypasses the cache entirely (no read, no write). */
  condition?: (...args: A) => boolean;
  /** Tag the entry with every row and table the method reads through TypeORM. Default true. */
  captureDependencies?: boolean;
  /**
   * Record calls for replay warming: their counts go, in memory and then every
   * `warming.flushInterval`, to the cache's heat store, and a cold start (`cache.warm()`) calls
   * the hottest again on the receiver registered with `cache.warming.register`. Only calls
   * whose arguments are plain data (primitives, Dates, plain arrays and objects) are recorded.
   * Default false.
   */
  replay?: boolean;
}

/** What one decorated method keeps between calls. */
interface State {
  readonly where: string;
  readonly tags: TagSpec[];
  callOptions: CallOptions | undefined;
  dynamicTags: TagSpec[] | undefined;
  sync: boolean;
}

/**
 * Cache-aside for an async method: a hit returns the cached result, a miss runs the method once
 * however many callers ask at the same time. `this`, name, `length` and metadata are kept.
 * A sync method is refused with a `CacheConfigError`: at decoration when `emitDecoratorMetadata`
 * is on, otherwise at its first call (the cache's tiers are asynchronous).
 */
export function Cacheable<A extends any[] = any[], R = any>(
  options: CacheableOptions<A, R> = {},
): TypedMethodDecorator<A> {
  // A decorated method that calls another one must depend on its tags: that needs the load
  // scope (see load_scope.ts), which costs every promise a little once on, so only apps that
  // use decorators (or an integration) turn it on.
  watchLoads();
  const tagOption = options.tags;
  if (tagOption !== undefined && typeof tagOption !== 'function') {
    if (!Array.isArray(tagOption))
      throw new CacheConfigError('tags', tagOption, 'expected an array of tags or a function');
    validateTagSpecs('tags', tagOption);
  }
  if (options.replay !== undefined && typeof options.replay !== 'boolean')
    throw new CacheConfigError('replay', options.replay, 'expected true or false');
  for (const name of ['key', 'condition', 'unless'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new CacheConfigError(name, options[name], 'expected a function of the method arguments');
    }
  }
  return methodDecorator('Cacheable', (original, info) => {
    // `Object` is what `any` and unions emit: it may still be a promise, so only the first call can tell.
    const rt = info.returnType;
    if (typeof rt === 'function' && rt !== Promise && rt !== Object) {
      throw new CacheConfigError(
        'Cacheable',
        info.name,
        `@Cacheable needs an async method (one returning a Promise); "${info.name}" is declared to return ${(info.returnType as { name?: string })?.name ?? 'something else'}`,
      );
    }
    const own: TagSpec[] = typeof tagOption === 'function' ? [tagOption as TagSpec] : [...(tagOption ?? [])];
    const state: State = {
      where: `@Cacheable ${info.name}()`,
      tags: own,
      callOptions: undefined,
      dynamicTags: undefined,
      sync: false,
    };
    const { key, condition, unless } = options;
    const method = info.name;
    // Identifies this method to the heat recorder; undefined keeps the hot path free of it.
    const site: CallSite | undefined = options.replay === true ? {} : undefined;

    // The default key of a one-primitive-argument call, remembered per receiver class: building
    // `Class.method:1` anew makes a fresh string that the L1 map must hash again on every hit;
    // reusing one halves a decorated hit (bench/decorator_hit.ts: 492 → 269 ns).
    let memoCtor: unknown;
    const memo = new Map<unknown, string>();
    const memoKey = (self: unknown, args: any[]): string => {
      if (args.length === 1) {
        const a = args[0];
        if (typeof a === 'number' || (typeof a === 'string' && a.length <= 64)) {
          const ctor =
            typeof self === 'function' ? self : (self as { constructor?: unknown } | null)?.constructor;
          if (ctor !== memoCtor) {
            memoCtor = ctor;
            memo.clear();
          }
          let k = memo.get(a);
          if (k === undefined) {
            if (memo.size >= 1024) memo.clear();
            k = defaultKey(self, method, args);
            memo.set(a, k);
          }
          return k;
        }
      }
      return defaultKey(self, method, args);
    };

    const wrapper: AnyMethod = function (this: unknown, ...args: any[]) {
      if (condition !== undefined && !condition.apply(this, args as A)) return original.apply(this, args);
      if (state.sync) throw syncError(state.where);
      const cache = resolveCache(this, options, state.where);
      const k = key !== undefined ? key.apply(this, args as A) : memoKey(this, args);
      if (site !== undefined) cache.warming.record(site, method, this, k, args);
      const call = state.callOptions ?? (state.callOptions = buildCallOptions(options, state));
      return cache.getOrLoad(k, (ctx) => load(this, args, ctx), call);
    };

    async function load(self: unknown, args: any[], ctx: LoadContext): Promise<unknown> {
      const r = original.apply(self, args);
      if (r === null || (typeof r !== 'object' && typeof r !== 'function') || typeof r.then !== 'function') {
        state.sync = true;
        ctx.doNotCache();
        throw syncError(state.where);
      }
      const result = await r;
      const dyn = state.dynamicTags;
      if (dyn !== undefined && dyn.length > 0) {
        const names = resolveTags(dyn, args, result);
        if (names.length > 0) ctx.addTags(...names);
      }
      if (unless !== undefined && unless(result as R)) ctx.doNotCache();
      return result;
    }

    // Adopt tags @CacheTags attached below; ones attached above are added to state.tags later.
    const all = adoptMethodTags(original, wrapper, own);
    (state as { tags: TagSpec[] }).tags = all;
    registerCacheableMethod(wrapper, {
      method,
      replay: site !== undefined,
      policy: options.policy,
      entryOf(self, args) {
        if (condition !== undefined && !condition.apply(self, args as A)) return undefined;
        const cache = resolveCache(self, options, state.where);
        return {
          cache,
          key: key !== undefined ? key.apply(self, args as A) : defaultKey(self, method, args),
        };
      },
    });
    return wrapper;
  });
}

/** Splits tags into the fixed ones (given to the engine once) and those computed per call. */
function buildCallOptions(options: CacheableOptions<any, any>, state: State): CallOptions {
  const fixed: string[] = [];
  const dynamic: TagSpec[] = [];
  for (const s of state.tags) {
    if (typeof s === 'string') fixed.push(s);
    else if (isClass(s)) fixed.push(tableTag(s as AnyFunction));
    else dynamic.push(s);
  }
  state.dynamicTags = dynamic;
  return {
    ttl: options.ttl,
    jitter: options.jitter,
    sliding: options.sliding,
    negativeTtl: options.negativeTtl,
    policy: options.policy,
    captureDependencies: options.captureDependencies,
    grace: options.grace,
    graceBackoff: options.graceBackoff,
    graceOnInvalidate: options.graceOnInvalidate,
    refreshAhead: options.refreshAhead,
    earlyRefresh: options.earlyRefresh,
    adaptiveTtl: options.adaptiveTtl,
    timeouts: options.timeouts,
    lock: options.lock,
    encrypt: options.encrypt,
    tags: fixed.length > 0 ? fixed : undefined,
  };
}

function syncError(where: string): CacheConfigError {
  return new CacheConfigError(
    'Cacheable',
    where,
    `${where} returned a value, not a Promise: @Cacheable caches async methods only, because L2 reads are asynchronous`,
  );
}
