import { cloneValue } from './clone';
import type { CacheStack, Flight } from './cache_stack';
import { coarseNow } from './clock';
import type { DecodedEntry, EntryHeader, L1Entry } from './entry';
import { limitKeyLength } from './keys';
import { LoadContextImpl, type LoadContext } from './load_context';
import { runInLoadScope } from './load_scope';
import type { CallOptions, ResolvedEntry } from './options';
import { type Copier, copierFor } from './shape_copier';
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
  if (e.expiresAt > now && stack.mirror.isCurrent(e)) {
    if (e.sliding !== 0) slide(stack, scope, key, e, now);
    return e;
  }
  l1.delete(l1Key);
  return undefined;
}

/** Counts an L1 hit and tells listeners. */
export function countL1Hit(stack: CacheStack, scope: Scope, key: string): void {
  stack.stats.l1Hits++;
  stack.stats.hits++;
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
): Promise<T> {
  if (stack.l1 !== undefined) stack.stats.l1Misses++;
  const existing = stack.inflight.get(keys.l1);
  if (existing !== undefined) {
    stack.stats.coalesced++;
    return existing.then((f) => (f.cached && !stack.shared ? cloneValue(f.stored) : f.value) as T);
  }
  const flight = runFlight(stack, scope, keys, loader, options);
  stack.inflight.set(keys.l1, flight);
  const clear = () => {
    if (stack.inflight.get(keys.l1) === flight) stack.inflight.delete(keys.l1);
  };
  flight.then(clear, clear);
  return flight.then((f) => f.value as T);
}

async function runFlight<T>(
  stack: CacheStack,
  scope: Scope,
  keys: EntryKeys,
  loader: Loader<T>,
  options: CallOptions<T> | undefined,
): Promise<Flight> {
  let seq: number | undefined;
  if (stack.l2 !== undefined) {
    const r = await stack.readL2(keys.full);
    if (r !== undefined) {
      if (r.kind === 'hit') {
        const hit = fillFromL2(stack, keys, r.data, r.remainingMs, r.entry);
        if (hit !== undefined) return hit;
      } else {
        if (r.kind === 'stale') stack.stats.l2Stale++;
        seq = r.seq;
      }
    }
    stack.stats.l2Misses++;
  }
  // Options are resolved only now that a load is certain: hits never pay for them.
  const settings = stack.resolve(options);
  stack.stats.misses++;
  if (stack.events.hasMiss) stack.events.emit('miss', { key: keys.full });

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
    stack.stats.loadErrors++;
    stack.stats.recordLoad(performance.now() - started);
    throw err;
  }
  stack.stats.recordLoad(performance.now() - started);
  if (ctx.skip) return { value, stored: undefined, cached: false };
  return storeValue(stack, scope, keys, value, seq, settings, ctx);
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
): Promise<Flight> {
  const key = keys.full;
  let ttl: number;
  let tags: string[];
  try {
    ttl = computeTtl(settings.ttl, value, ctx?.ttl, stack.tagVersionTtl, key);
    tags = tagKeys(scope, settings, value, ctx);
  } catch (err) {
    // A throwing ttl()/tags() function is the caller's bug, but not a reason to fail the call.
    stack.report(err as never, 'options', key);
    return { value, stored: undefined, cached: false };
  }
  if (ttl <= 0) return { value, stored: undefined, cached: false };
  const payload = stack.encode(key, value);
  if (payload === undefined) return { value, stored: undefined, cached: false };

  const sliding = settings.ttl.sliding ? ttl : 0;
  const l1 = stack.l1;
  // Without L1, `stored` only serves callers that joined this flight, and they copy it in the
  // same tick the flight settles, before the starting caller can touch it: no copy needed here.
  const stored = stack.shared || l1 === undefined ? value : cloneValue(value);
  if (l1 !== undefined) {
    const now = Date.now();
    const copy = stack.shared ? shareValue : copierFor(stored);
    l1.set(
      keys.l1,
      { value: stored, copy, seq, tags, expiresAt: now + ttl, sliding, touchedAt: now },
      { size: payload.length + keys.l1.length },
    );
  }
  stack.stats.sets++;
  const l2 = stack.l2;
  if (l2 !== undefined) {
    const header: EntryHeader = { s: seq, t: tags, c: stack.serializer.name };
    if (sliding !== 0) header.sl = sliding;
    const data = stack.frame(header, payload);
    await stack.guard('l2.set', key, () => l2.set(key, data, ttl), stack.l2WriteTimeout);
  }
  stack.events.emit('set', { key, ttlMs: ttl });
  return { value, stored, cached: true };
}

/** Decodes an L2 hit, fills L1 with the entry's remaining TTL, and counts the hit. */
export function fillFromL2(
  stack: CacheStack,
  keys: EntryKeys,
  data: Buffer,
  remainingMs: number,
  entry?: DecodedEntry,
): Flight | undefined {
  const d = stack.decode(keys.full, data, entry);
  if (d === undefined) return undefined;
  stack.stats.l2Hits++;
  stack.stats.hits++;
  if (stack.events.hasHit) stack.events.emit('hit', { key: keys.full, layer: 'l2' });
  const { value, header } = d;
  const l1 = stack.l1;
  // The decoded value is fresh and private: L1 keeps it, and the caller gets a copy.
  if (l1 !== undefined && remainingMs > 0) {
    const now = Date.now();
    const ttl = Number.isFinite(remainingMs) ? remainingMs : stack.tagVersionTtl;
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
      },
      { size: data.length + keys.l1.length },
    );
    return { value: copy(value), stored: value, cached: true };
  }
  return { value, stored: value, cached: true };
}

/** Full tag keys of an entry: its namespace chain, then option tags, then tags the loader added. */
function tagKeys(
  scope: Scope,
  settings: ResolvedEntry,
  value: unknown,
  ctx: LoadContextImpl | undefined,
): string[] {
  const out = scope.scopeTags.slice();
  const t = settings.tags;
  const names = typeof t === 'function' ? t(value) : t;
  if (names !== undefined) for (const n of names) out.push(scope.tagPrefix + n);
  if (ctx?.tags !== undefined) for (const n of ctx.tags) out.push(scope.tagPrefix + n);
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
