import { LRUCache } from 'lru-cache';
import { CacheConfigError, CacheError, CacheKeyError, CacheTenantError } from './errors';
import { tenantSegment } from './engine/tenancy';
import { CacheStack } from './engine/cache_stack';
import type { CacheEventMap, CacheEventName, CacheLayer } from './engine/events';
import { argsKey, topString } from './engine/keys';
import { type CacheOptions, type CallOptions, validateTags } from './engine/options';
import type { CacheStats } from './engine/stats';
import { type DomainEventPayload, eventTags, payloadIds, validateEventName } from './engine/domain_events';
import { enclosingLoad } from './engine/load_scope';
import { carriedWrite, type CarriedWrite } from './engine/carried_write';
import type { L1Entry } from './engine/entry';
import type { Store } from './stores/store';
import {
  countL1Hit,
  type EntryKeys,
  fillFromL2,
  freshHit,
  fullKeyOf,
  l1KeyOf,
  l1Lookup,
  type Loader,
  loadThrough,
  type Scope,
  storeValue,
} from './engine/two_tier_handler';
import { Warming, type WarmingStats } from './warming/warming';
import type { WarmingOptions, WarmOptions } from './warming/warming_options';
import type { Warmer } from './warming/warmer';
import type { WarmReport } from './warming/warm_report';

/** A value found in the cache, with where it came from. */
export interface CacheHit<T> {
  readonly value: T;
  readonly layer: CacheLayer;
}

/**
 * A cache key: a string, or a list of parts (any serializable values) that is turned into a
 * stable string, so that `['user', 1, { active: true }]` always names the same entry.
 */
export type CacheKey = string | readonly unknown[];

const NAMESPACE_NAME = /^[A-Za-z0-9_-]+$/;

/** Namespaces share their root's warming, as they share its stack. */
const warmings = new WeakMap<CacheStack, Warming>();

/** Work that must finish while the cache is still open (write-behind flushes), per stack. */
const closeHooks = new WeakMap<CacheStack, Set<() => Promise<void>>>();

/**
 * Runs `hook` at the start of `cache.close()` (of the cache or any namespace of its root),
 * while the cache still serves reads and invalidations. Returns a function that removes it.
 * Integrations use it so that closing the cache never strands their background work.
 */
export function beforeCacheClose(cache: Cache, hook: () => Promise<void>): () => void {
  const stack = cache['stack'];
  let set = closeHooks.get(stack);
  if (set === undefined) closeHooks.set(stack, (set = new Set()));
  set.add(hook);
  return () => set.delete(hook);
}

/**
 * Prepares a write of `value` under `key` (with `tags` added to the options', and the tag names
 * `bump` moved by the same step) whose L2 part another store's script performs (the
 * write-behind append, see `CarriedWrite`); `undefined` when the cache cannot hand it over and
 * the caller should use `set`. For integrations, not applications.
 */
export function prepareCarriedWrite(
  cache: Cache,
  key: CacheKey,
  value: unknown,
  options: CallOptions | undefined,
  tags: readonly string[],
  bump: readonly string[],
  accepts: (store: Store) => boolean,
): CarriedWrite | undefined {
  // A tenant-less view of a multi-tenant cache writes through `set`, which resolves the tenant.
  if (cache['stack'].tenancy !== undefined && !cache['isTenant']) return undefined;
  validateTags('tags', tags);
  validateTags('bump', bump);
  const stack = cache['stack'];
  const settings = stack.resolve(options);
  return carriedWrite(stack, cache['scope'], cache['keysOf'](key), value, settings, tags, bump, accepts);
}

/**
 * A two-tier cache: an in-process L1 over an optional shared L2, with versioned tags,
 * single-flight loading and namespaces. Create one per application and pass it around.
 *
 * ```ts
 * const cache = new Cache({ l2: new RedisStore({ url: process.env.REDIS_URL }) });
 * const user = await cache.getOrLoad(`user:${id}`, () => db.findUser(id), { ttl: '1h', tags: [`user:${id}`] });
 * await cache.invalidateTags([`user:${id}`]);
 * ```
 */
export class Cache {
  private readonly stack: CacheStack;
  private readonly scope: Scope;
  /** This cache's namespace path (`''` for the root). */
  readonly namespacePath: string;
  /** Whether this is one tenant's view (see `tenant`). */
  private readonly isTenant: boolean;
  /** A multi-tenant cache's root view: calls resolve the current tenant first. */
  private readonly tenantRoot: boolean;
  private tenants: LRUCache<string, Cache> | undefined;
  /** For a tenant view: the cache it scopes and the tenant, so its namespaces stay tenant views. */
  private tenantOf: { parent: Cache; id: string } | undefined;
  /** Startup, scheduled and replay warming: register warmers and replay receivers here. */
  readonly warming: Warming;

  constructor(options?: CacheOptions & { warming?: WarmingOptions });
  /** @internal namespaces share their parent's stack */
  constructor(
    options: CacheOptions | undefined,
    stack: CacheStack,
    path: string,
    parentTags: readonly string[],
    tenant?: { sharedTagPrefix?: string },
  );
  constructor(
    options: CacheOptions & { warming?: WarmingOptions } = {},
    stack?: CacheStack,
    path = '',
    parentTags: readonly string[] = [],
    tenant?: { sharedTagPrefix?: string },
  ) {
    this.stack = stack ?? new CacheStack(options);
    this.namespacePath = path;
    this.isTenant = tenant !== undefined;
    this.tenantRoot = this.stack.tenancy !== undefined && !this.isTenant;
    const seg = path === '' ? '_' : path;
    const p = this.stack.prefix;
    this.scope = {
      l1Prefix: path === '' ? '' : `\0${path}\0`,
      keyPrefix: `${p}:${seg}:`,
      tagPrefix: `${p}:__:t:${seg}:`,
      scopeTags: [...parentTags, `${p}:__:ns:${seg}`],
      sharedTagPrefix: tenant?.sharedTagPrefix,
      counts: this.stack.stats.namespace(path),
    };
    let warming = warmings.get(this.stack);
    if (warming === undefined) {
      const st = this.stack;
      warming = new Warming(options.warming, {
        cache: this,
        prefix: p,
        policies: options.policies,
        report: (error, operation, key) => st.report(error, operation, key),
      });
      warmings.set(st, warming);
    }
    this.warming = warming;
    // Last, once nothing above can throw any more.
    if (stack === undefined) this.stack.startSync();
  }

  /**
   * Returns the cached value of `key`, or runs `loader` once (however many callers ask at the
   * same time), caches its result and returns it. Loader errors reach every waiting caller and
   * are never cached. L2 failures are reported on `error` and otherwise ignored.
   */
  getOrLoad<T>(key: CacheKey, loader: Loader<T>, options?: CallOptions<T>): Promise<T> {
    // The hit path: no await, no allocation beyond the copy and the promise. Kept small so that
    // V8 inlines it into callers; everything else is in `getOrLoadSlow`.
    if (typeof key !== 'string' || key === '' || this.tenantRoot)
      return this.getOrLoadSlow(key, loader, options);
    // A string key is encoded like a one-string argument list: '1' must not reach [1]'s entry.
    const k = topString(key);
    const stack = this.stack;
    const scope = this.scope;
    const l1Key = l1KeyOf(scope, k);
    const e = l1Lookup(stack, scope, k, l1Key);
    if (e === undefined || e.fresh !== undefined) return this.loadKey(k, l1Key, e, loader, options);
    countL1Hit(stack, scope, k);
    // A call made inside another entry's loader: that entry depends on this one's tags.
    const outer = enclosingLoad();
    if (outer !== undefined && e.tags !== undefined) outer.addTagKeys(e.tags);
    return Promise.resolve(e.copy(e.value) as T);
  }

  /** `getOrLoad` for keys that are not plain strings, and for a tenant-less view of a multi-tenant cache. */
  private getOrLoadSlow<T>(key: CacheKey, loader: Loader<T>, options?: CallOptions<T>): Promise<T> {
    if (this.tenantRoot) return this.tenantGetOrLoad(key, loader, options);
    let k: string | undefined;
    try {
      k = this.keyString(key);
    } catch (err) {
      return Promise.reject(err);
    }
    if (k === undefined) return Promise.reject(this.keyError(key));
    const l1Key = l1KeyOf(this.scope, k);
    return this.loadKey(k, l1Key, l1Lookup(this.stack, this.scope, k, l1Key), loader, options);
  }

  /** `getOrLoad` past the plain-hit check: a hit with freshness data, or a miss. */
  private loadKey<T>(
    k: string,
    l1Key: string,
    e: L1Entry | undefined,
    loader: Loader<T>,
    options: CallOptions<T> | undefined,
  ): Promise<T> {
    const stack = this.stack;
    const scope = this.scope;
    const outer = enclosingLoad();
    if (e !== undefined) {
      countL1Hit(stack, scope, k);
      if (outer !== undefined && e.tags !== undefined) outer.addTagKeys(e.tags);
      if (e.fresh !== undefined) return freshHit(stack, scope, k, l1Key, e, loader, options);
      return Promise.resolve(e.copy(e.value) as T);
    }
    const full = fullKeyOf(stack, scope, k);
    if (stack.closed) return Promise.resolve().then(() => loader(closedContext(full)));
    return loadThrough(stack, scope, { l1: l1Key, full }, loader, options, outer);
  }

  /** Returns the cached value of `key`, or `undefined` on a miss (a cached `null` is returned as `null`). */
  async get<T = unknown>(key: CacheKey): Promise<T | undefined> {
    const hit = await this.getEntry<T>(key);
    return hit?.value;
  }

  /** Like `get`, but tells a cached `undefined` from a miss, and which tier answered. */
  async getEntry<T = unknown>(key: CacheKey): Promise<CacheHit<T> | undefined> {
    if (this.stack.tenancy !== undefined && !this.isTenant) return this.scoped('getEntry').getEntry<T>(key);
    const user = this.keyString(key);
    if (user === undefined) throw this.keyError(key);
    const stack = this.stack;
    const l1Key = l1KeyOf(this.scope, user);
    const e = l1Lookup(stack, this.scope, user, l1Key);
    // Past its TTL, a value in grace is only served by getOrLoad, which can refresh it.
    if (e !== undefined && (e.fresh === undefined || Date.now() < e.fresh.freshUntil)) {
      countL1Hit(stack, this.scope, user);
      return { value: e.copy(e.value) as T, layer: 'l1' };
    }
    // The L2 name (hashed when long) is only built past L1.
    const keys = { l1: l1Key, full: fullKeyOf(stack, this.scope, user) };
    const counts = this.scope.counts;
    if (stack.l1 !== undefined) counts.l1Misses++;
    if (stack.l2 !== undefined && !stack.closed) {
      const r = await stack.readL2(keys.full);
      if (r?.kind === 'hit') {
        const f = fillFromL2(stack, counts, keys, r.data, r.remainingMs, r.entry);
        if (f !== undefined && f.stale === undefined) return { value: f.value as T, layer: 'l2' };
      } else if (r?.kind === 'stale') stack.stats.l2Stale++;
      counts.l2Misses++;
    }
    counts.misses++;
    if (stack.events.hasMiss) stack.events.emit('miss', { key: keys.full });
    return undefined;
  }

  /**
   * Stores `value` under `key` in both tiers, as current now: invalidations made before this
   * call do not affect it. A value that cannot be serialized is reported on `error`, not thrown.
   * Resolves to whether the value was cached; when it was not (too large, unserializable, a
   * zero TTL), the key's previous entry is dropped, so that it is never served in its place.
   */
  async set<T>(key: CacheKey, value: T, options?: CallOptions<T>): Promise<boolean> {
    if (this.stack.tenancy !== undefined && !this.isTenant)
      return this.scoped('set').set(key, value, options);
    const keys = this.keysOf(key);
    const stack = this.stack;
    if (stack.closed) return false;
    const settings = stack.resolve(options);
    const since = options?.since;
    const seq = typeof since === 'number' && Number.isFinite(since) ? since : await stack.captureSeq();
    const f = await storeValue(stack, this.scope, keys, value, seq, settings, undefined);
    if (!f.cached) {
      // The caller replaced the value: an older entry left in place would be served as if it
      // were this one. Dropped instead, so reads go to the source.
      stack.l1?.delete(keys.l1);
      const l2 = stack.l2;
      if (l2 !== undefined)
        await stack.guard('l2.delete', keys.full, () => l2.delete([keys.full]), stack.l2WriteTimeout);
    }
    // No tag moved, so other instances' L1 copies would still look current: tell them.
    stack.sync?.publishDrop([keys.l1]);
    return f.cached;
  }

  /**
   * The invalidation version to take before reading a value from its source, for `set(…, {
   * since })`. `getOrLoad` does this itself; only code that reads and stores in separate steps
   * needs it.
   */
  captureVersion(): Promise<number> {
    return this.stack.captureSeq();
  }

  /** Removes `key` from both tiers. Rejects if L2 could not be reached (L1 is cleared regardless). */
  async delete(key: CacheKey): Promise<void> {
    if (this.stack.tenancy !== undefined && !this.isTenant) return this.scoped('delete').delete(key);
    const { l1: l1Key, full } = this.keysOf(key);
    const stack = this.stack;
    stack.l1?.delete(l1Key);
    stack.stats.deletes++;
    stack.events.emit('delete', { key: full });
    const l2 = stack.l2;
    if (l2 !== undefined) await stack.strict('l2.delete', full, () => l2.delete([full]));
    stack.sync?.publishDrop([l1Key]);
  }

  /**
   * Invalidates every entry carrying any of `tags`, in this namespace. O(1) per tag: versions
   * are bumped, nothing is scanned or deleted. If the L2 cannot be reached, this process's L1
   * honours the invalidation at once and the bump is queued (bounded) and applied before any L2
   * read once it is back; the failure is reported on the `error` event.
   */
  async invalidateTags(tags: readonly string[], options?: { scope?: 'all' | 'tenant' }): Promise<void> {
    // With tenancy, an invalidation reaches every tenant unless it asks for the current one only:
    // the TypeORM subscriber's table and row tags must reach all of them.
    if (options?.scope === 'tenant' && this.stack.tenancy !== undefined && !this.isTenant) {
      return this.scoped('invalidateTags').invalidateTags(tags);
    }
    if (!Array.isArray(tags)) throw new CacheConfigError('tags', tags, 'expected an array of tag names');
    validateTags('tags', tags);
    const keys = tags.map((t) => this.scope.tagPrefix + t);
    await this.bump(keys);
    this.stack.events.emit('invalidate', { tags, namespace: this.namespacePath });
  }

  /**
   * Publishes a domain event: invalidates the entries of every policy whose `invalidateOn`
   * names it, in this cache (all tenants included) and, through versioned tags and the bus, in
   * every instance. With `{ id }` or `{ ids }`, a policy's entries that declared rows of the
   * event's entity (`row:Product:7` for `product.updated`) go only when they hold those rows;
   * its other entries go regardless. An event no policy listens to does nothing. Not to be
   * confused with `on`/`off`, which are about the cache's own events.
   *
   * ```ts
   * await cache.emit('product.updated', { id: 7 });
   * ```
   */
  async emit(event: string, payload?: DomainEventPayload): Promise<void> {
    const tags = this.domainEventTags(event, payload);
    if (tags.length > 0) await this.invalidateTags(tags);
  }

  /** @internal The tags `emit` bumps, so that the TypeORM plugin can bump them with its own in one call. */
  domainEventTags(event: string, payload?: DomainEventPayload): string[] {
    validateEventName('event', event);
    const ids = payloadIds(payload);
    const listeners = this.stack.listeners.get(event);
    return listeners === undefined ? [] : eventTags(event, listeners, ids);
  }

  /** Empties this namespace (and the namespaces under it) by bumping its version: O(1), no scan. */
  async clear(): Promise<void> {
    if (this.stack.tenancy !== undefined && !this.isTenant) {
      const id = this.stack.tenancy.resolve();
      // Inside a tenant: that tenant's entries; outside: everything.
      if (id !== undefined && id !== '') return this.tenant(id).clear();
    }
    await this.bump([this.scope.scopeTags[this.scope.scopeTags.length - 1]]);
    this.stack.events.emit('invalidate', { tags: [], namespace: this.namespacePath });
  }

  /**
   * A view of this cache whose keys and tags live apart: `users.getOrLoad('1', …)` never meets
   * `orders.getOrLoad('1', …)`. Namespaces share tiers, stats and events with their parent.
   */
  namespace(name: string): Cache {
    if (typeof name !== 'string' || !NAMESPACE_NAME.test(name) || name.startsWith('_')) {
      throw new CacheConfigError(
        'namespace',
        name,
        'expected letters, digits, - and _ (not starting with _)',
      );
    }
    // A tenant's namespace is the namespace's tenant view: the same entries runWithTenant reaches
    // through the root's namespace, and reached by that namespace's all-tenant invalidations.
    if (this.tenantOf !== undefined) return this.tenantOf.parent.namespace(name).tenant(this.tenantOf.id);
    const path = this.namespacePath === '' ? name : `${this.namespacePath}.${name}`;
    return new Cache(undefined, this.stack, path, this.scope.scopeTags);
  }

  /**
   * This cache as seen by one tenant: its keys and tags apart from every other tenant's. Calls
   * made inside `runWithTenant(id, …)` go through it by themselves.
   */
  tenant(id: string): Cache {
    if (typeof id !== 'string' || id === '')
      throw new CacheConfigError('tenant', id, 'expected a non-empty tenant id');
    if (this.isTenant) throw new CacheConfigError('tenant', id, 'this cache is already scoped to a tenant');
    let c = this.tenants?.get(id);
    if (c === undefined) {
      c = new Cache(
        undefined,
        this.stack,
        `${this.namespacePath}${tenantSegment(id)}`,
        this.scope.scopeTags,
        {
          sharedTagPrefix: this.scope.tagPrefix,
        },
      );
      c.tenantOf = { parent: this, id };
      (this.tenants ??= new LRUCache({ max: 10_000 })).set(id, c);
    }
    return c;
  }

  private tenantGetOrLoad<T>(key: CacheKey, loader: Loader<T>, options?: CallOptions<T>): Promise<T> {
    let c: Cache;
    try {
      c = this.scoped('getOrLoad');
    } catch (err) {
      return Promise.reject(err);
    }
    return c.getOrLoad(key, loader, options);
  }

  private scoped(operation: string): Cache {
    const id = this.stack.tenancy!.resolve();
    if (id === undefined || id === '') {
      if (this.stack.tenancy!.required) throw new CacheTenantError(operation);
      // Optional tenancy: calls without a tenant share one scope of their own.
      return this.tenant('~shared');
    }
    return this.tenant(id);
  }

  /** Counters and sizes of this cache (shared with its namespaces), warming included. */
  stats(): CacheStats & { warming: WarmingStats } {
    const l1 = this.stack.l1;
    const stack = this.stack;
    const s = stack.stats.snapshot(
      l1?.size ?? 0,
      l1?.calculatedSize ?? 0,
      stack.breaker?.state ?? 'closed',
      stack.pending.overflowed ? Infinity : stack.pending.size,
      stack.sync?.live ?? false,
    );
    return { ...s, warming: this.warming.stats() };
  }

  /**
   * Warms the cache. `cache.warm()` runs the startup warmers (registered with `warming.add`
   * and marked `onStartup`, or whose policy has `warmOnStartup` / `warm_on_startup`), then
   * replays the hottest recorded calls; `cache.warm([...warmers])` runs the given ones.
   * Await it to start serving warm, or leave it running: it never rejects, and a failing
   * warmer is reported (report, `warming` events, `error` event) without stopping the others.
   *
   * ```ts
   * await cache.warm([warmMethod(products, 'find', [[1], [2]]), async function settings() { … }], { concurrency: 8 });
   * ```
   */
  warm(options?: WarmOptions): Promise<WarmReport>;
  warm(warmers: readonly Warmer[], options?: WarmOptions): Promise<WarmReport>;
  warm(a?: readonly Warmer[] | WarmOptions, b?: WarmOptions): Promise<WarmReport> {
    return Array.isArray(a) ? this.warming.run(a, b) : this.warming.run(undefined, a as WarmOptions);
  }

  /** Subscribes to a cache event. */
  on<E extends CacheEventName>(event: E, listener: (payload: CacheEventMap[E]) => void): this {
    this.stack.events.on(event, listener);
    return this;
  }

  /** Unsubscribes from a cache event. */
  off<E extends CacheEventName>(event: E, listener: (payload: CacheEventMap[E]) => void): this {
    this.stack.events.off(event, listener);
    return this;
  }

  /**
   * Stops the cache: warming schedules and replay recording stop (the last call counts are
   * flushed), later `getOrLoad` calls run their loader directly, and the L2 store is closed.
   * A write-behind writing to this cache is closed first (its queue flushed) while the cache
   * can still take the flush's invalidations. Call it once, on the root cache, at shutdown.
   */
  async close(): Promise<void> {
    const stack = this.stack;
    if (stack.closed) return;
    const hooks = closeHooks.get(stack);
    if (hooks !== undefined) {
      closeHooks.delete(stack);
      await Promise.allSettled([...hooks].map((h) => h()));
    }
    // Schedules and the heat flush timer stop first; the last counts are flushed while L2 is open.
    await this.warming.close();
    if (stack.closed) return;
    stack.closed = true;
    await Promise.allSettled(stack.inflight.values());
    stack.l1?.clear();
    await stack.sync?.close();
    await stack.l2?.close();
  }

  private async bump(keys: string[]): Promise<void> {
    const stack = this.stack;
    if (stack.closed) throw new CacheError('the cache is closed; the invalidation was not recorded');
    // Earlier invalidations that missed the L2 go first, so versions keep their order.
    if (stack.l2 !== undefined && !stack.pending.isEmpty) await stack.flushPending();
    stack.stats.invalidations += keys.length;
    const l2 = stack.l2;
    if (l2 === undefined) {
      const v = stack.mirror.nextLocal();
      for (const k of keys) stack.mirror.note(k, v);
      return;
    }
    const r = await stack.attempt(
      'l2.invalidate',
      undefined,
      () => l2.invalidate(stack.seqKey, keys, stack.tagVersionTtl),
      stack.l2WriteTimeout,
    );
    // Locally the invalidation holds either way: on failure a version above anything seen makes
    // this process's L1 drop the entries, and the bump is queued for the L2's return (every L2
    // read waits for the queue to drain). The error was reported on the `error` event.
    const v = r.ok ? r.value : stack.mirror.nextLocal();
    for (const k of keys) stack.mirror.note(k, v);
    if (!r.ok) stack.pending.add(keys);
    else stack.sync?.publishTags(keys, v);
  }

  /** Both names of a key; throws CacheKeyError for an unusable one. */
  private keysOf(key: CacheKey): EntryKeys & { user: string } {
    const user = this.keyString(key);
    if (user === undefined) throw this.keyError(key);
    return { user, l1: l1KeyOf(this.scope, user), full: fullKeyOf(this.stack, this.scope, user) };
  }

  /** The string form of a key, or undefined when it has none (the caller then throws keyError). */
  private keyString(key: CacheKey): string | undefined {
    if (typeof key === 'string') return key === '' ? undefined : topString(key);
    if (Array.isArray(key)) {
      const k = argsKey(key); // throws CacheKeyError naming the bad part
      return k === '' ? undefined : k;
    }
    return undefined;
  }

  private keyError(key: unknown): CacheKeyError {
    if (key === '' || (Array.isArray(key) && key.length === 0))
      return new CacheKeyError('key', 'the key is empty');
    return new CacheKeyError('key', `expected a string or an array of key parts, got ${typeof key}`);
  }
}

function closedContext(key: string) {
  return { key, setTtl() {}, addTags() {}, doNotCache() {} };
}
