import { LRUCache } from 'lru-cache';
import { CacheConfigError } from '../errors';
import { type Duration, parseDuration } from './duration';

/**
 * Freshness beyond a plain TTL: grace (stale-while-revalidate), refresh-ahead, probabilistic
 * early refresh (XFetch) and adaptive TTLs. The settings travel inside each entry, so that a hit
 * decides without resolving options: the L1 hit path stays one property check when all are off.
 */

/** Freshness options of an entry (per call, per `@Cacheable`, per policy, or cache-wide). */
export interface FreshnessOptions {
  /**
   * Keep serving a value this long past its TTL while one background refresh runs
   * (stale-while-revalidate); a failed refresh keeps the stale value. Default off.
   */
  grace?: Duration | false;
  /** After a failed background refresh, wait this long before the next try. Default `'10s'`. */
  graceBackoff?: Duration;
  /**
   * Also serve an entry whose tags were invalidated while it refreshes, within its grace. Off by
   * default: an explicit invalidation normally means "never show this again".
   */
  graceOnInvalidate?: boolean;
  /**
   * Refresh in the background when less than this fraction of the TTL remains, e.g. `0.2`
   * (refresh-ahead). Default off.
   */
  refreshAhead?: number;
  /**
   * Probabilistic early refresh (XFetch): a hit refreshes early with probability
   * `exp(-remaining / (beta · loadTime))`. `true` means beta 1; larger refreshes earlier. Default off.
   */
  earlyRefresh?: boolean | number;
  /**
   * Let the TTL grow with how often the key is read: `min` for a cold key, up to `max` for a key
   * read `hitsForMax` times per `halfLife` (a decaying count kept in process). Default off.
   */
  adaptiveTtl?: AdaptiveTtlOptions | false;
}

/** Bounds and speed of an adaptive TTL. */
export interface AdaptiveTtlOptions {
  min: Duration;
  max: Duration;
  /** Decayed reads at which the TTL reaches `max`. Default 100. */
  hitsForMax?: number;
  /** Half-life of the read count. Default `'10m'`. */
  halfLife?: Duration;
}

/** Freshness settings after validation; undefined on an entry when every feature is off. */
export interface FreshnessSettings {
  readonly grace: number;
  readonly backoff: number;
  readonly graceOnInvalidate: boolean;
  readonly refreshAhead: number;
  readonly beta: number;
  readonly adaptive: { min: number; max: number; hitsForMax: number; halfLife: number } | undefined;
}

/** What an entry carries about its freshness; stored in L1 and in the L2 header. */
export interface EntryFreshness {
  /** Epoch ms after which the value is stale: served only within grace, while refreshing. */
  readonly freshUntil: number;
  /** Epoch ms after which a hit starts a background refresh (refresh-ahead); Infinity when off. */
  readonly refreshAt: number;
  /** How long the load took, ms: XFetch's delta. */
  readonly delta: number;
  /** XFetch beta; 0 when off. */
  readonly beta: number;
  /** Serve while refreshing even after an invalidation. */
  readonly graceOnInvalidate: boolean;
  /** Count reads of this key for its adaptive TTL. */
  readonly adaptive: boolean;
}

/** Validates freshness options on top of a base; undefined when nothing is on. */
export function resolveFreshness(
  path: string,
  o: FreshnessOptions,
  base: FreshnessSettings | undefined,
  sliding: boolean,
): FreshnessSettings | undefined {
  let grace = base?.grace ?? 0;
  if (o.grace === false) grace = 0;
  else if (o.grace !== undefined) grace = parseDuration(`${path}grace`, o.grace);
  const backoff =
    o.graceBackoff !== undefined
      ? parseDuration(`${path}graceBackoff`, o.graceBackoff)
      : (base?.backoff ?? 10_000);
  const graceOnInvalidate =
    bool(`${path}graceOnInvalidate`, o.graceOnInvalidate) ?? base?.graceOnInvalidate ?? false;
  let refreshAhead = base?.refreshAhead ?? 0;
  if (o.refreshAhead !== undefined) {
    const r = o.refreshAhead;
    if (typeof r !== 'number' || !(r > 0 && r < 1)) {
      throw new CacheConfigError(
        `${path}refreshAhead`,
        r,
        'expected a fraction of the TTL in (0, 1), e.g. 0.2',
      );
    }
    refreshAhead = r;
  }
  let beta = base?.beta ?? 0;
  if (o.earlyRefresh !== undefined) {
    const e = o.earlyRefresh;
    if (e === true) beta = 1;
    else if (e === false) beta = 0;
    else if (typeof e === 'number' && Number.isFinite(e) && e > 0) beta = e;
    else throw new CacheConfigError(`${path}earlyRefresh`, e, 'expected true, false or a beta > 0');
  }
  let adaptive = base?.adaptive;
  if (o.adaptiveTtl === false) adaptive = undefined;
  else if (o.adaptiveTtl !== undefined) adaptive = resolveAdaptive(`${path}adaptiveTtl`, o.adaptiveTtl);
  if (grace > 0 && sliding) {
    throw new CacheConfigError(
      `${path}grace`,
      o.grace ?? grace,
      'a sliding entry has no fixed expiry to be graceful about',
    );
  }
  if (grace === 0 && refreshAhead === 0 && beta === 0 && adaptive === undefined && !graceOnInvalidate) {
    return undefined;
  }
  return { grace, backoff, graceOnInvalidate, refreshAhead, beta, adaptive };
}

function resolveAdaptive(path: string, a: AdaptiveTtlOptions): FreshnessSettings['adaptive'] {
  if (!a || typeof a !== 'object') throw new CacheConfigError(path, a, 'expected { min, max } or false');
  const min = parseDuration(`${path}.min`, a.min);
  const max = parseDuration(`${path}.max`, a.max);
  if (!(min > 0) || max < min) throw new CacheConfigError(`${path}.max`, a.max, 'expected max ≥ min > 0');
  const hitsForMax = a.hitsForMax ?? 100;
  if (typeof hitsForMax !== 'number' || !(hitsForMax >= 1)) {
    throw new CacheConfigError(`${path}.hitsForMax`, a.hitsForMax, 'expected a number ≥ 1');
  }
  const halfLife = parseDuration(`${path}.halfLife`, a.halfLife ?? '10m');
  if (!(halfLife > 0)) throw new CacheConfigError(`${path}.halfLife`, a.halfLife, 'expected a duration > 0');
  return { min, max, hitsForMax, halfLife };
}

function bool(path: string, v: unknown): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  throw new CacheConfigError(path, v, 'expected true or false');
}

/** The freshness an entry stored now gets. `ttl` is its fresh lifetime, `loadMs` the load time. */
export function entryFreshness(
  s: FreshnessSettings,
  now: number,
  ttl: number,
  loadMs: number,
): EntryFreshness {
  return {
    freshUntil: now + ttl,
    refreshAt: s.refreshAhead > 0 ? now + ttl * (1 - s.refreshAhead) : Infinity,
    delta: Math.max(1, Math.round(loadMs)),
    beta: s.beta,
    graceOnInvalidate: s.graceOnInvalidate,
    adaptive: s.adaptive !== undefined,
  };
}

/**
 * Whether a fresh hit should refresh now: refresh-ahead's point passed, or XFetch's draw says so.
 * XFetch: refresh when `-delta · beta · ln(U) ≥ remaining`, i.e. with probability
 * `exp(-remaining / (beta · delta))`.
 */
export function wantsEarlyRefresh(f: EntryFreshness, now: number): boolean {
  if (now >= f.refreshAt) return true;
  if (f.beta === 0) return false;
  return -f.delta * f.beta * Math.log(Math.random()) >= f.freshUntil - now;
}

/** Header field of an entry's freshness: `freshUntil,refreshAt,delta,beta,flags`; empty when none. */
export function encodeFreshness(f: EntryFreshness | undefined): string {
  if (f === undefined) return '';
  const flags = (f.graceOnInvalidate ? 'i' : '') + (f.adaptive ? 'a' : '');
  const refreshAt = f.refreshAt === Infinity ? '' : String(Math.round(f.refreshAt));
  return `${Math.round(f.freshUntil)},${refreshAt},${f.delta},${f.beta},${flags}`;
}

/** Parses `encodeFreshness`; undefined for an empty or malformed field (treated as plain TTL). */
export function decodeFreshness(s: string): EntryFreshness | undefined {
  if (s === '') return undefined;
  const p = s.split(',');
  if (p.length !== 5) return undefined;
  const freshUntil = Number(p[0]);
  const refreshAt = p[1] === '' ? Infinity : Number(p[1]);
  const delta = Number(p[2]);
  const beta = Number(p[3]);
  if (
    !Number.isFinite(freshUntil) ||
    Number.isNaN(refreshAt) ||
    !Number.isFinite(delta) ||
    !Number.isFinite(beta)
  ) {
    return undefined;
  }
  return {
    freshUntil,
    refreshAt,
    delta,
    beta,
    graceOnInvalidate: p[4].includes('i'),
    adaptive: p[4].includes('a'),
  };
}

/**
 * Decaying read counts per key, for adaptive TTLs: one number and a timestamp per key, decayed
 * lazily when touched, so a read costs a map lookup and a multiplication, never a Redis call.
 * Bounded: the least recently read keys are forgotten (they restart at the minimum TTL).
 */
export class ReadHeat {
  private readonly counts: LRUCache<string, { n: number; at: number }>;

  constructor(max = 10_000) {
    this.counts = new LRUCache({ max });
  }

  /** Counts one read of `key` at `now`. */
  hit(key: string, now: number, halfLife: number): void {
    const c = this.counts.get(key);
    if (c === undefined) this.counts.set(key, { n: 1, at: now });
    else {
      c.n = c.n * Math.pow(0.5, (now - c.at) / halfLife) + 1;
      c.at = now;
    }
  }

  /** The decayed read count of `key` at `now`. */
  count(key: string, now: number, halfLife: number): number {
    const c = this.counts.peek(key);
    return c === undefined ? 0 : c.n * Math.pow(0.5, (now - c.at) / halfLife);
  }
}

/**
 * The adaptive TTL of a key: `min` when cold, growing with the logarithm of its decayed read
 * count to `max` at `hitsForMax` (a log scale, so the first few reads matter most).
 */
export function adaptiveTtl(a: NonNullable<FreshnessSettings['adaptive']>, reads: number): number {
  const share = Math.min(1, Math.log1p(reads) / Math.log1p(a.hitsForMax));
  return Math.round(a.min + (a.max - a.min) * share);
}
