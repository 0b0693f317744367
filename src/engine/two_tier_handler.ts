import { CacheError, CacheTimeoutError } from '../errors';
import type { StoreLocks } from '../stores/store';
import { cloneValue } from './clone';
import type { CacheStack, Flight } from './cache_stack';
import { coarseNow } from './clock';
import { decodeEntry, type DecodedEntry, type EntryHeader, type L1Entry } from './entry';
import { adaptiveTtl, entryFreshness, type EntryFreshness, wantsEarlyRefresh } from './freshness';
import { limitKeyLength } from './keys';
import { LoadContextImpl, type LoadContext } from './load_context';
import { runInLoadScope } from './load_scope';
import type { CaptureView } from './load_context';
import { listenerEntryTags } from './domain_events';
import type { CallOptions, ResolvedEntry } from './options';
import { type Copier, copierFor, copyOnFirstHit } from './shape_copier';
import { freezeDates } from './readonly_date';
import type { NamespaceCounters } from './stats';
import { computeTtl } from './ttl';

/** A loader: may return a value or a promise of one. */
export type Loader<T> = (ctx: LoadContext) => T | Promise<T>;

/** Where a namespace's keys and tags live; built once per namespace. */
export interface Scope {
  /**
   * Prepended to user keys in L1: empty for the root namespace, so that a root hit builds no
   * string at all; `\0name\0` for others. L1 is private to the process, so it needs no prefix.
   */
  readonly l1Prefix: string;
  /** `prefix:namespace:` — prepended to user keys in L2. */
  readonly keyPrefix: string;
  /** `prefix:__:t:namespace:` — prepended to tag names. */
  readonly tagPrefix: string;
  /** Tag keys of this namespace and its parents, so that `clear()` of any of them drops the entry. */
  readonly scopeTags: readonly string[];
  /** For a tenant's scope: the shared tag prefix, so that an invalidation for all tenants reaches it too. */
  readonly sharedTagPrefix?: string;
  /** This namespace's lookup counters (shared by its tenants). */
  readonly counts: NamespaceCounters;
}

/** The two names of one entry: in L1, and in L2 (and in events). */
export interface EntryKeys {
  readonly l1: string;
  readonly full: string;
}

const shareValue: Copier = (v) => v;

/** The L1 name of a user key. Root keys starting with NUL get one more, so they never look namespaced. */
export function l1KeyOf(scope: Scope, key: string): string {
  if (scope.l1Prefix !== '') return scope.l1Prefix + key;
  return key.charCodeAt(0) === 0 ? '\0' + key : key;
}

/** The L2 name of a user key: `prefix:namespace:key`, long keys hashed. */
export function fullKeyOf(stack: CacheStack, scope: Scope, key: string): string {
  // Always through limitKeyLength: it also rehashes short keys that mimic a hashed one.
  return scope.keyPrefix + limitKeyLength(key, stack.maxKeyLength);
}

/**
 * The L1 hit check. Synchronous on purpose: a hit must not await. Returns the entry when it is
 * unexpired and every tag is current, drops it otherwise.
 */
export function l1Lookup(stack: CacheStack, scope: Scope, key: string, l1Key: string): L1Entry | undefined {
  const l1 = stack.l1;
  if (l1 === undefined) return undefined;
  const e = l1.get(l1Key);
  if (e === undefined) return undefined;
  const now = coarseNow();
  if (e.expiresAt > now) {
    if (stack.mirror.isCurrent(e)) {
      if (e.sliding !== 0) slide(stack, scope, key, e, now);
      return e;
    }
    // Kept for the miss path, which serves it while reloading (an opt-in of its policy).
    if (e.fresh !== undefined && e.fresh.graceOnInvalidate) return undefined;
  }
  l1.delete(l1Key);
  return undefined;
}

/** Counts an L1 hit (once, in its namespace: the totals are sums) and tells listeners. */
export function countL1Hit(stack: CacheStack, scope: Scope, key: string): void {
  scope.counts.l1Hits++;
  if (stack.events.hasHit) stack.events.emit('hit', { key: fullKeyOf(stack, scope, key), layer: 'l1' });
}

/**
 * The miss path of `getOrLoad`: single-flight, then L2, then the loader. The caller that starts
 * the flight gets the loader's own value; callers that joined get copies of what was stored.
 */
export function loadThrough<T>(
  stack: CacheStack,
  scope: Scope,
  keys: EntryKeys,
  loader: Loader<T>,
  options: CallOptions<T> | undefined,
  outer?: CaptureView,
): Promise<T> {
  if (stack.l1 !== undefined) scope.counts.l1Misses++;
  let hard: number;
  try {
    hard = hardTimeoutOf(stack, options);
  } catch (err) {
    return Promise.reject(err);
  }
  const existing = stack.inflight.get(keys.l1);
  if (existing !== undefined) {
    stack.stats.coalesced++;
    return withHardTimeout(
      stack,
      keys,
      hard,
      existing.then((f) => {
        if (outer !== undefined && f.tags !== undefined) outer.addTagKeys(f.tags);
        return joinedValue(stack, f) as T;
      }),
    );
  }
  const flight = startFlight(stack, scope, keys, loader, options, false);
  const result = flight.then((f) => {
    // The enclosing load depends on whatever this entry depends on (even one not cached).
    if (outer !== undefined && f.tags !== undefined) outer.addTagKeys(f.tags);
    if (f.stale === undefined && !f.early && f.adaptive !== true) return f.value as T;
    // Options are resolved only for entries that use freshness features: plain hits never pay.
    const settings = stack.resolve(options);
    const adaptive = settings.fresh?.adaptive;
    if (f.adaptive === true && adaptive !== undefined)
      stack.heat.hit(keys.full, Date.now(), adaptive.halfLife);
    if (f.stale !== undefined) {
      // Served from grace: refresh behind it, or wait for the refresh up to the soft timeout.
      stack.stats.staleServed++;
      const refresh = startRefresh(stack, scope, keys, loader, options, settings);
      if (refresh !== undefined && settings.softTimeout > 0)
        return raceSoft(stack, refresh, settings.softTimeout, f.value as T);
    } else if (f.early) {
      stack.stats.earlyRefreshes++;
      startRefresh(stack, scope, keys, loader, options, settings);
    }
    return f.value as T;
  });
  return withHardTimeout(stack, keys, hard, result);
}

/**
 * The hard loader timeout of a call, without resolving its options when they cannot change it:
 * callers often pass a fresh options object per call, and resolving one costs a validation.
 */
function hardTimeoutOf(stack: CacheStack, options: CallOptions<any> | undefined): number {
  if (options === undefined || (options.timeouts === undefined && options.policy === undefined))
    return stack.defaults.hardTimeout;
  return stack.resolve(options).hardTimeout;
}

/** Registers a flight as the one load of its key until it settles. */
function startFlight<T>(
  stack: CacheStack,
  scope: Scope,
  keys: EntryKeys,
  loader: Loader<T>,
  options: CallOptions<T> | undefined,
  refresh: boolean,
): Promise<Flight> {
  // The flight clears itself as it settles: a separate `then(clear, clear)` cost a promise per call.
  const flight: Promise<Flight> = runFlight(stack, scope, keys, loader, options, refresh).then(
    (f) => {
      stack.inflight.settle(keys.l1, flight);
      return f;
    },
    (err: unknown) => {
      stack.inflight.settle(keys.l1, flight);
      throw err;
    },
  );
  stack.inflight.set(keys.l1, flight);
  return flight;
}

/** What a caller gets from a flight it did not start: a private copy of what was stored. */
function joinedValue(stack: CacheStack, f: Flight): unknown {
  return f.cached && !stack.shared ? cloneValue(f.stored) : f.value;
}

/**
 * The L1 hit path of an entry that carries freshness data (grace, refresh-ahead, XFetch, adaptive
 * TTL): returns the value at once, and starts a background refresh when the entry is stale or
 * due for an early one. Only entries of policies that use these features come here.
 */
export function freshHit<T>(
  stack: CacheStack,
  scope: Scope,
  key: string,
  l1Key: string,
  e: L1Entry,
  loader: Loader<T>,
  options: CallOptions<T> | undefined,
): Promise<T> {
  const f = e.fresh!;
  const value = e.copy(e.value) as T;
  const now = Date.now();
  // One draw per hit: drawing again below would square XFetch's probability.
  const early = now < f.freshUntil && wantsEarlyRefresh(f, now);
  if (now < f.freshUntil && !f.adaptive && !early) return Promise.resolve(value);
  let settings: ResolvedEntry;
  try {
    settings = stack.resolve(options);
  } catch (err) {
    return Promise.reject(err);
  }
  const keys = { l1: l1Key, full: fullKeyOf(stack, scope, key) };
  const adaptive = settings.fresh?.adaptive;
  if (f.adaptive && adaptive !== undefined) stack.heat.hit(keys.full, now, adaptive.halfLife);
  if (now < f.freshUntil) {
    if (early) {
      stack.stats.earlyRefreshes++;
      startRefresh(stack, scope, keys, loader, options, settings);
    }
    return Promise.resolve(value);
  }
  stack.stats.staleServed++;
  const refresh = startRefresh(stack, scope, keys, loader, options, settings);
  if (refresh !== undefined && settings.softTimeout > 0)
    return raceSoft(stack, refresh, settings.softTimeout, value);
  return Promise.resolve(value);
}

/**
 * Starts one background load of a key, unless one is running (then returns it) or the last one
 * failed less than `graceBackoff` ago. Its failure keeps the stale value and is reported.
 */
function startRefresh<T>(
  stack: CacheStack,
  scope: Scope,
  keys: EntryKeys,
  loader: Loader<T>,
  options: CallOptions<T> | undefined,
  settings: ResolvedEntry,
): Promise<Flight> | undefined {
  const running = stack.inflight.get(keys.l1);
  if (running !== undefined) return running;
  if (stack.closed) return undefined;
  const retryAt = stack.refreshBackoff.get(keys.full);
  if (retryAt !== undefined && Date.now() < retryAt) return undefined;
  stack.stats.refreshes++;
  const flight = startFlight(stack, scope, keys, loader, options, true);
  flight.then(
    () => stack.refreshBackoff.delete(keys.full),
    (err: unknown) => {
      stack.stats.refreshErrors++;
      stack.refreshBackoff.set(keys.full, Date.now() + (settings.fresh?.backoff ?? 10_000));
      stack.report(
        new CacheError(
          `background refresh of "${keys.full}" failed: ${(err as Error)?.message ?? String(err)}`,
          {
            cause: err,
          },
        ),
        'refresh',
        keys.full,
      );
    },
  );
  return flight;
}

/** The refreshed value if it comes within `softMs`, the stale one otherwise (or if it fails). */
function raceSoft<T>(stack: CacheStack, refresh: Promise<Flight>, softMs: number, stale: T): Promise<T> {
  return new Promise<T>((resolve) => {
    const timer = setTimeout(() => resolve(stale), softMs);
    refresh.then(
      (f) => {
        clearTimeout(timer);
        resolve(joinedValue(stack, f) as T);
      },
      () => {
        clearTimeout(timer);
        resolve(stale);
      },
    );
  });
}

/** Rejects with a `CacheTimeoutError` past the hard timeout; the load itself goes on and is cached. */
function withHardTimeout<T>(stack: CacheStack, keys: EntryKeys, hard: number, p: Promise<T>): Promise<T> {
  if (hard === 0) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      stack.stats.loadTimeouts++;
      reject(new CacheTimeoutError('loader', hard, keys.full));
    }, hard);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * A flight: L2 first (when there is one), then the loader. Not an async function: an L2 hit is
 * the common outcome with a shared store, and a `then` on the read costs one promise where an
 * async frame and its await cost three (bench/redis_hit.ts).
 */
function runFlight<T>(
  stack: CacheStack,
  scope: Scope,
  keys: EntryKeys,
  loader: Loader<T>,
  options: CallOptions<T> | undefined,
  refresh: boolean,
): Promise<Flight> {
  if (stack.l2 === undefined) {
    if (!refresh) {
      // Memory only: an invalidated entry kept for graceOnInvalidate is served while it reloads.
      const kept = keptAfterInvalidation(stack, keys);
      if (kept !== undefined) return Promise.resolve(kept);
    }
    return loadFlight(stack, scope, keys, loader, options, refresh, undefined);
  }
  return stack.readL2(keys.full, false).then((r): Flight | Promise<Flight> => {
    let seq: number | undefined;
    if (r !== undefined) {
      if (r.kind === 'hit') {
        const hit = fillFromL2(stack, scope.counts, keys, r.data, r.remainingMs, r.entry);
        // A refresh uses L2 only if another instance has refreshed it already.
        if (hit !== undefined && (!refresh || hit.stale === undefined)) return hit;
      } else if (!refresh) {
        if (r.kind === 'stale') {
          stack.stats.l2Stale++;
          const served = staleOnInvalidate(stack, keys, r.data);
          if (served !== undefined) return served;
        }
        seq = r.seq;
      }
    }
    scope.counts.l2Misses++;
    return loadFlight(stack, scope, keys, loader, options, refresh, seq);
  });
}

/** The loading part of a flight, after L2 missed; `seq` is the capture the read brought, if any. */
async function loadFlight<T>(
  stack: CacheStack,
  scope: Scope,
  keys: EntryKeys,
  loader: Loader<T>,
  options: CallOptions<T> | undefined,
  refresh: boolean,
  seq: number | undefined,
): Promise<Flight> {
  // Options are resolved only now that a load is certain: hits never pay for them.
  const settings = stack.resolve(options);
  scope.counts.misses++;
  if (stack.events.hasMiss) stack.events.emit('miss', { key: keys.full });

  let token: string | undefined;
  if (settings.lock !== undefined && stack.l2?.locks !== undefined && !refresh) {
    const got = await lockOrWait(stack, scope.counts, keys, settings.lock, stack.l2.locks);
    if (got.hit !== undefined) return got.hit;
    token = got.token;
    if (got.seq !== undefined) seq = got.seq;
  }
  try {
    // Capture before loading: a write that commits while the loader runs bumps a tag past `seq`,
    // so the entry this load produces can never pass for fresh (the stale-set race).
    if (seq === undefined) seq = await stack.captureSeq();
    else stack.mirror.observeSeq(seq);

    const ctx = new LoadContextImpl(keys.full);
    const started = performance.now();
    let value: T;
    try {
      value = await (settings.capture ? runInLoadScope(ctx, () => loader(ctx)) : loader(ctx));
    } catch (err) {
      const ms = performance.now() - started;
      stack.stats.loadErrors++;
      stack.stats.recordLoad(ms);
      stack.events.emit('load', { key: keys.full, ms, ok: false });
      throw err;
    }
    const loadMs = performance.now() - started;
    stack.stats.recordLoad(loadMs);
    stack.events.emit('load', { key: keys.full, ms: loadMs, ok: true });
    if (ctx.skip) return { value, stored: undefined, cached: false };
    return await storeValue(stack, scope, keys, value, seq, settings, ctx, loadMs);
  } finally {
    if (token !== undefined) {
      const locks = stack.l2!.locks!;
      const t = token;
      void stack.guard('l2.unlock', keys.full, () => locks.release(keys.full, t), stack.l2WriteTimeout);
    }
  }
}

/**
 * The cross-process lock of a cold key: take it and load, or wait for its holder's result. The
 * L2 is re-read after taking the lock, since the holder before may have just written the entry.
 * An unreachable lock means loading without it: the cache is never required.
 */
async function lockOrWait(
  stack: CacheStack,
  counts: NamespaceCounters,
  keys: EntryKeys,
  lock: NonNullable<ResolvedEntry['lock']>,
  locks: StoreLocks,
): Promise<{ hit?: Flight; token?: string; seq?: number }> {
  const deadline = Date.now() + lock.wait;
  let seq: number | undefined;
  for (;;) {
    const a = await stack.attempt(
      'l2.lock',
      keys.full,
      () => locks.acquire(keys.full, lock.ttl),
      stack.l2Timeout,
    );
    if (!a.ok) return { seq };
    if (a.value !== undefined) {
      stack.stats.locksAcquired++;
      const r = await stack.readL2(keys.full);
      if (r?.kind === 'hit') {
        const hit = fillFromL2(stack, counts, keys, r.data, r.remainingMs, r.entry);
        if (hit !== undefined) {
          const token = a.value;
          void stack.guard(
            'l2.unlock',
            keys.full,
            () => locks.release(keys.full, token),
            stack.l2WriteTimeout,
          );
          return { hit };
        }
      }
      return { token: a.value, seq: r?.kind === 'hit' ? seq : (r?.seq ?? seq) };
    }
    stack.stats.lockWaits++;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      stack.stats.lockTimeouts++;
      if (lock.onTimeout === 'fail') throw new CacheTimeoutError('lock.wait', lock.wait, keys.full);
      return { seq };
    }
    await stack.attempt(
      'l2.lockWait',
      keys.full,
      () => locks.waitForRelease(keys.full, remaining),
      remaining + stack.l2Timeout,
    );
    const r = await stack.readL2(keys.full);
    if (r?.kind === 'hit') {
      const hit = fillFromL2(stack, counts, keys, r.data, r.remainingMs, r.entry);
      if (hit !== undefined) return { hit };
    }
    if (r !== undefined && r.kind !== 'hit') seq = r.seq;
  }
}

/** An L2 entry whose tags moved, served anyway when its policy opted in (graceOnInvalidate). */
function staleOnInvalidate(stack: CacheStack, keys: EntryKeys, data: Buffer): Flight | undefined {
  const kept = keptAfterInvalidation(stack, keys);
  if (kept !== undefined) return kept;
  const e = decodeEntry(data);
  if (e?.header.f?.graceOnInvalidate !== true) return undefined;
  const d = stack.decode(keys.full, data, e);
  // Not put in L1: it is not current, and the refresh replaces it.
  return d === undefined ? undefined : { value: d.value, stored: d.value, cached: true, stale: true };
}

/** The L1 copy of an invalidated graceOnInvalidate entry, still within its grace. */
function keptAfterInvalidation(stack: CacheStack, keys: EntryKeys): Flight | undefined {
  const e = stack.l1?.peek(keys.l1);
  if (e === undefined || e.fresh?.graceOnInvalidate !== true || e.expiresAt <= Date.now()) return undefined;
  return { value: e.copy(e.value), stored: e.value, cached: true, stale: true };
}

/**
 * An entry ready to be written, but for the invalidation sequence it is stamped with: the
 * normal write path stamps the sequence captured before its load; the write-behind append
 * stamps the one Redis holds when its script runs (see `prepareCarriedWrite`).
 */
export interface EntryDraft {
  readonly value: unknown;
  /** What L1 keeps: a private copy, or the value itself in shared mode or without L1. */
  readonly stored: unknown;
  readonly tags: string[];
  readonly ttl: number;
  /** How long the entry lives in L2: its TTL, plus the grace period when there is one. */
  readonly life: number;
  readonly sliding: number;
  readonly fresh: EntryFreshness | undefined;
  readonly payload: Buffer;
  readonly encrypt: boolean;
}

/**
 * Works out TTL, tags and payload of a value to cache; `undefined` when it is not to be cached
 * (a zero TTL, a throwing option function, or a value that cannot be serialized, reported).
 */
export function draftEntry(
  stack: CacheStack,
  scope: Scope,
  key: string,
  value: unknown,
  settings: ResolvedEntry,
  ctx: LoadContextImpl | undefined,
  loadMs = 0,
  /** Tag names added to the options' (validated by the caller). */
  extraTags?: readonly string[],
): EntryDraft | undefined {
  let ttl: number;
  let tags: string[];
  const fs = settings.fresh;
  try {
    ttl = computeTtl(settings.ttl, value, ctx?.ttl, stack.tagVersionTtl, key);
    const adaptive = fs?.adaptive;
    if (
      adaptive !== undefined &&
      ctx?.ttl === undefined &&
      ttl > 0 &&
      value !== null &&
      value !== undefined
    ) {
      // A load is a read too; the TTL then follows how hot the key has been.
      const now = Date.now();
      ttl = adaptiveTtl(adaptive, stack.heat.count(key, now, adaptive.halfLife));
      stack.heat.hit(key, now, adaptive.halfLife);
    }
    tags = tagKeys(scope, settings, value, ctx, extraTags);
  } catch (err) {
    // A throwing ttl()/tags() function is the caller's bug, but not a reason to fail the call.
    stack.report(err as never, 'options', key);
    return undefined;
  }
  if (ttl <= 0) return undefined;
  const payload = stack.encode(key, value);
  if (payload === undefined) return undefined;
  let fresh: EntryFreshness | undefined;
  // With grace the entry lives on past its TTL, stale, for the grace period.
  let life = ttl;
  if (fs !== undefined) {
    fresh = entryFreshness(fs, Date.now(), ttl, loadMs);
    life = Math.min(ttl + fs.grace, stack.tagVersionTtl);
  }
  // Without L1, `stored` only serves callers that joined this flight, and they copy it in the
  // same tick the flight settles, before the starting caller can touch it: no copy needed here.
  const stored = stack.shared || stack.fillableL1 === undefined ? value : cloneValue(value);
  return {
    value,
    stored,
    tags,
    ttl,
    life,
    sliding: settings.ttl.sliding ? ttl : 0,
    fresh,
    payload,
    encrypt: settings.encrypt,
  };
}

/** Puts a drafted entry in L1 (when there is one to fill) and counts the set. */
export function fillDraft(stack: CacheStack, l1Key: string, d: EntryDraft, seq: number): void {
  const l1 = stack.fillableL1;
  if (l1 !== undefined) {
    // While the L2 is unreachable this process may miss other instances' invalidations: keep L1 short.
    const l1Life = stack.l2Healthy ? d.life : Math.min(d.life, stack.l1TtlWhileDown);
    // L1 may have become fillable since the draft (the bus came back): L1 must own its copy.
    const stored = d.stored === d.value && !stack.shared ? cloneValue(d.value) : d.stored;
    if (stack.readonlyDates) freezeDates(stored);
    const now = Date.now();
    const copy = stack.shared ? shareValue : copyOnFirstHit;
    l1.set(
      l1Key,
      {
        value: stored,
        copy,
        seq,
        tags: d.tags,
        expiresAt: now + l1Life,
        sliding: d.sliding,
        touchedAt: now,
        fresh: d.fresh,
      },
      { size: d.payload.length + l1Key.length },
    );
  }
  stack.stats.sets++;
}

/** The L2 bytes of a drafted entry stamped with `seq`. */
export function draftBytes(stack: CacheStack, d: EntryDraft, value: unknown, seq: number): Buffer {
  const header: EntryHeader = { s: seq, t: d.tags, c: stack.codecOf(value) };
  if (d.sliding !== 0) header.sl = d.sliding;
  if (d.fresh !== undefined) header.f = d.fresh;
  return stack.frame(header, d.payload, d.encrypt);
}

/**
 * Writes a value to both tiers with the captured sequence. Never throws: a value that cannot
 * be cached is still returned to its caller.
 */
export async function storeValue(
  stack: CacheStack,
  scope: Scope,
  keys: EntryKeys,
  value: unknown,
  seq: number,
  settings: ResolvedEntry,
  ctx: LoadContextImpl | undefined,
  loadMs = 0,
): Promise<Flight> {
  const key = keys.full;
  const d = draftEntry(stack, scope, key, value, settings, ctx, loadMs);
  if (d === undefined) return { value, stored: undefined, cached: false };
  fillDraft(stack, keys.l1, d, seq);
  const l2 = stack.l2;
  if (l2 !== undefined) {
    const data = draftBytes(stack, d, value, seq);
    await stack.guard('l2.set', key, () => l2.set(key, data, d.life), stack.l2WriteTimeout);
  }
  stack.events.emit('set', { key, ttlMs: d.ttl });
  return { value, stored: d.stored, cached: true, tags: d.tags };
}

/** Decodes an L2 hit, fills L1 with the entry's remaining TTL, and counts the hit (stale ones too). */
export function fillFromL2(
  stack: CacheStack,
  counts: NamespaceCounters,
  keys: EntryKeys,
  data: Buffer,
  remainingMs: number,
  entry?: DecodedEntry,
): Flight | undefined {
  const d = stack.decode(keys.full, data, entry);
  if (d === undefined) return undefined;
  counts.l2Hits++;
  if (stack.events.hasHit) stack.events.emit('hit', { key: keys.full, layer: 'l2' });
  const { value, header } = d;
  const f = header.f;
  let stale: true | undefined;
  let early = false;
  if (f !== undefined) {
    const now = Date.now();
    if (now >= f.freshUntil) stale = true;
    else early = wantsEarlyRefresh(f, now);
  }
  const adaptive = f?.adaptive === true;
  const l1 = stack.fillableL1;
  // The decoded value is private: L1 keeps it, and the caller gets a copy.
  if (l1 !== undefined && remainingMs > 0) {
    const now = Date.now();
    const ttl = Number.isFinite(remainingMs) ? remainingMs : stack.tagVersionTtl;
    if (stack.readonlyDates) freezeDates(value);
    const copy = stack.shared ? shareValue : copierFor(value);
    l1.set(
      keys.l1,
      {
        value,
        copy,
        seq: header.s,
        tags: header.t,
        expiresAt: now + ttl,
        sliding: header.sl ?? 0,
        touchedAt: now,
        fresh: f,
      },
      { size: data.length + keys.l1.length },
    );
    return { value: copy(value), stored: value, cached: true, stale, early, adaptive, tags: header.t };
  }
  return { value, stored: value, cached: true, stale, early, adaptive, tags: header.t };
}

/** Full tag keys of an entry: its namespace chain, then option tags, then tags the loader added. */
function tagKeys(
  scope: Scope,
  settings: ResolvedEntry,
  value: unknown,
  ctx: LoadContextImpl | undefined,
  extra: readonly string[] | undefined,
): string[] {
  const out = scope.scopeTags.slice();
  const t = settings.tags;
  let names = typeof t === 'function' ? t(value) : t;
  if (extra !== undefined) names = names === undefined ? extra : [...names, ...extra];
  const listen = settings.listen;
  if (listen !== undefined) {
    const declared = ctx?.declared === undefined ? (names ?? []) : [...(names ?? []), ...ctx.declared];
    names = [...(names ?? []), ...listenerEntryTags(listen, declared)];
  }
  if (names !== undefined) for (const n of names) out.push(scope.tagPrefix + n);
  if (ctx?.tags !== undefined) for (const n of ctx.tags) out.push(scope.tagPrefix + n);
  const shared = scope.sharedTagPrefix;
  if (shared !== undefined) {
    if (names !== undefined) for (const n of names) out.push(shared + n);
    if (ctx?.tags !== undefined) for (const n of ctx.tags) out.push(shared + n);
  }
  // Nested cached calls' tags are full keys already; they overlap the others often.
  if (ctx?.tagKeys !== undefined) {
    for (const k of ctx.tagKeys) out.push(k);
    return [...new Set(out)];
  }
  return out;
}

/** Sliding expiry: extend in L1 now, and in L2 at most once per tenth of the TTL to spare round trips. */
function slide(stack: CacheStack, scope: Scope, key: string, e: L1Entry, now: number): void {
  e.expiresAt = now + e.sliding;
  const l2 = stack.l2;
  if (l2 === undefined || now - e.touchedAt < e.sliding / 10) return;
  e.touchedAt = now;
  const ttl = e.sliding;
  const full = fullKeyOf(stack, scope, key);
  void stack.guard(
    'l2.touch',
    full,
    () => (l2.touchValidated ? l2.touchValidated(full, ttl) : l2.touch(full, ttl)),
    stack.l2WriteTimeout,
  );
}
