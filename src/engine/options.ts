import { CacheConfigError } from '../errors';
import type { Store } from '../stores/store';
import type { Bus } from '../stores/bus';
import type { EncryptionOptions } from './encryption';
import type { TenancyOptions } from './tenancy';
import { type Duration, parseDuration } from './duration';
import type { CompressionAlgorithm } from './compression';
import type { Serializer } from './serializer';
import { isHeaderSafe } from './entry';
import { type ResolvedTtl, type TtlOption, resolveJitter, resolveTtlOption } from './ttl';
import type { CircuitBreakerOptions } from '../resilience/circuit_breaker';
import { type FreshnessOptions, type FreshnessSettings, resolveFreshness } from './freshness';
import type { PolicyListener } from './domain_events';

/** Tags of an entry: fixed names, or computed from the loaded value. */
export type TagsOption<T = unknown> = readonly string[] | ((value: T) => readonly string[]);

/** Limits on how long a caller waits for a loader. */
export interface LoadTimeouts {
  /**
   * Past this, a caller that has a stale value at hand (within grace) gets it, and the load
   * finishes in the background. Without a soft timeout, such a caller gets the stale value at once.
   */
  soft?: Duration;
  /** Past this, the caller's promise rejects with a `CacheTimeoutError`; the load goes on and is cached. */
  hard?: Duration;
}

/** Stampede protection across processes: one process loads a cold key, the others wait for its result. */
export interface LockOptions {
  /** How long the lock lives if its holder dies. Default `'10s'`. */
  ttl?: Duration;
  /** How long a waiter waits for the holder's result. Default `'5s'`. */
  wait?: Duration;
  /** What a waiter does when the wait runs out: load itself (default) or reject with `CacheTimeoutError`. */
  onTimeout?: 'load' | 'fail';
}

/** Per-entry settings, usable per call, in a named policy, or as cache-wide defaults. */
export interface EntryOptions<T = unknown> extends FreshnessOptions {
  /** Time to live: ms, `'5m'`-style, or a function of the value. Default `'5m'`. */
  ttl?: TtlOption<T>;
  /** Spread expirations by ± this fraction of the TTL, e.g. `0.1`. Default 0. */
  jitter?: number;
  /** Reset the TTL on every read (L1 and L2). Default false. */
  sliding?: boolean;
  /** TTL for `null`/`undefined` results, or `false` not to cache them. Default `'30s'` (capped at the TTL). */
  negativeTtl?: Duration | false;
  /** Tags whose invalidation drops this entry. */
  tags?: TagsOption<T>;
  /**
   * Let integrations add what the loader read as tags (the TypeORM plugin tags every row and
   * table a loader touches). Default true.
   */
  captureDependencies?: boolean;
  /** Encrypt this entry's L2 payload (AES-256-GCM; needs `CacheOptions.encryption`). Default false. */
  encrypt?: boolean;
  /** Soft and hard limits on waiting for the loader. Default none. */
  timeouts?: LoadTimeouts;
  /**
   * Take a lock in L2 before loading a missing key, so that one process in the cluster loads it
   * (needs a store with locks, e.g. RedisStore; ignored without one). Default off.
   */
  lock?: boolean | LockOptions;
}

/**
 * A named policy: entry settings plus fields that the warming and event-invalidation features
 * read (they are validated and kept here so that one config file describes a policy whole).
 */
export interface PolicyOptions<T = unknown> extends EntryOptions<T> {
  /** Load this policy's registered warmers when the cache starts. */
  warmOnStartup?: boolean;
  /** Cron expression for re-warming, e.g. `'0 *\/6 * * *'`. */
  warmSchedule?: string;
  /**
   * Domain events that invalidate this policy's entries, e.g. `['user.updated']` (see
   * `cache.emit`). An event with ids drops only the entries that declared those rows with a
   * `row:<Entity>:<id>` tag, and every entry that declared no row of that entity.
   */
  invalidateOn?: readonly string[];
}

/** Options of one `getOrLoad`/`set` call. */
export interface CallOptions<T = unknown> extends EntryOptions<T> {
  /** Name of a policy from `CacheOptions.policies`; call options override it. */
  policy?: string;
  /**
   * For `set`: the version from `cache.captureVersion()` taken before the value was read from
   * its source. Integrations that read and store in separate steps (TypeORM's query cache) pass
   * it so that a write committed in between makes the stored entry stale at once.
   */
  since?: number;
}

/** L1 (in-process) settings. */
export interface L1Options {
  /** Most entries kept. Default 10,000. */
  maxEntries?: number;
  /** Most bytes kept, measured as each entry's serialized size. Default 64 MiB. */
  maxBytes?: number;
  /**
   * Return the stored object itself on a hit instead of a copy. Faster, but a caller that
   * mutates a result corrupts it for everyone: use only for read-only data. Default false.
   */
  shared?: boolean;
  /**
   * Copy Dates on each hit too. By default (false) the other parts of a value are copied but its
   * Dates are shared between hits and made read-only, because constructing a Date costs more
   * than copying the rest of a typical entity; calling a setter on one throws a
   * `CacheReadonlyError`. Ignored in `shared` mode.
   */
  copyDates?: boolean;
}

/** L2 (shared store) settings. */
export interface L2Options {
  /** The store: `RedisStore` from `cachekit/redis`, `KeyvStore` from `cachekit/keyv`, or your own. */
  store: Store;
  /** Longest wait for an L2 read before the call goes on without it. Default `'100ms'`. */
  timeout?: Duration;
  /** Longest wait for an L2 write or invalidation. Default `'1s'`. */
  writeTimeout?: Duration;
  /** When to stop trying a failing L2 for a while, or `false` never to. Default on (5 failures in 10 s, 5 s cooldown). */
  circuitBreaker?: CircuitBreakerOptions | false;
  /** L1 TTL of entries stored while the L2 is unreachable, so they do not outlive a missed invalidation for long. Default `'5s'`. */
  l1TtlWhileDown?: Duration;
  /** Invalidations kept while the L2 is unreachable; past this, recovery clears the whole cache instead. Default 10,000. */
  maxPendingInvalidations?: number;
}

/** Compression of L2 payloads. */
export interface CompressionSettings {
  /** Default `'gzip'`. */
  algorithm?: CompressionAlgorithm;
  /** Payloads at least this many bytes are compressed. Default 1024. */
  threshold?: number;
}

/** Options of `new Cache(...)`. Every one has a default. */
export interface CacheOptions extends EntryOptions {
  /** First segment of every key, so that applications can share a Redis. Default `'cachekit'`. */
  prefix?: string;
  /** The in-process tier, or `false` for none. Default on. */
  l1?: L1Options | false;
  /** The shared tier. Default none (memory only). */
  l2?: Store | L2Options;
  /** Named entry settings, e.g. `{ session: { ttl: '30m', sliding: true } }`. */
  policies?: Record<string, PolicyOptions<any>>;
  /** `'json'` (default: keeps Date, BigInt, Map, Set, Buffer), `'msgpack'`, or your own. */
  serializer?: 'json' | 'msgpack' | Serializer;
  /** Compress large L2 payloads. Default off. */
  compression?: CompressionSettings | false;
  /** Values whose serialized size exceeds this are not cached (the caller still gets them). Default 1 MiB. */
  maxEntryBytes?: number;
  /** Keys longer than this are hashed, keeping a readable head. Default 200. */
  maxKeyLength?: number;
  /**
   * How long tag versions are remembered in L2. It is also the longest TTL an entry may have,
   * since an entry must not outlive the record of its invalidation. Default `'30d'`.
   */
  tagVersionTtl?: Duration;
  /** Most tag versions mirrored in process. Default 100,000. */
  maxMirroredTags?: number;
  /**
   * How instances tell each other's L1 about invalidations. Default: the L2 store's bus
   * (RedisStore: pub/sub) when there is an L1; `false` for none (then another instance's
   * invalidation reaches this L1 only when its entry expires).
   */
  bus?: Bus | false;
  /** Scope keys and tags per tenant (see `runWithTenant`). Default off. */
  tenancy?: TenancyOptions;
  /** Keys for entries with `encrypt: true` (see `encryptionFromEnv`). Default none. */
  encryption?: EncryptionOptions;
}

/** Entry settings after validation. */
export interface ResolvedEntry {
  readonly ttl: ResolvedTtl;
  readonly tags: TagsOption<any> | undefined;
  readonly capture: boolean;
  /** Undefined when no freshness feature is on: the hit path then skips it entirely. */
  readonly fresh: FreshnessSettings | undefined;
  readonly encrypt: boolean;
  readonly softTimeout: number;
  readonly hardTimeout: number;
  readonly lock: { ttl: number; wait: number; onTimeout: 'load' | 'fail' } | undefined;
  /** Set when the entry's policy has `invalidateOn`: its entries carry the policy's event tags. */
  readonly listen: PolicyListener | undefined;
}

/** Validates a positive integer option. */
export function positiveInt(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new CacheConfigError(option, value, 'expected a positive integer');
  }
  return value;
}

/** Resolves entry options on top of a base, validating each one under its option path. */
export function resolveEntry(
  path: string,
  opts: EntryOptions<any>,
  base: ResolvedEntry | undefined,
): ResolvedEntry {
  const b = base?.ttl;
  const ttl = opts.ttl !== undefined ? resolveTtlOption(`${path}ttl`, opts.ttl) : (b?.ttl ?? 300_000);
  const jitter = opts.jitter !== undefined ? resolveJitter(`${path}jitter`, opts.jitter) : (b?.jitter ?? 0);
  if (opts.sliding !== undefined && typeof opts.sliding !== 'boolean') {
    throw new CacheConfigError(`${path}sliding`, opts.sliding, 'expected true or false');
  }
  const sliding = opts.sliding ?? b?.sliding ?? false;
  let negativeTtl: number;
  if (opts.negativeTtl === false) negativeTtl = 0;
  else if (opts.negativeTtl !== undefined)
    negativeTtl = parseDuration(`${path}negativeTtl`, opts.negativeTtl);
  else negativeTtl = b?.negativeTtl ?? 30_000;
  if (typeof ttl === 'number' && opts.negativeTtl === undefined) negativeTtl = Math.min(negativeTtl, ttl);
  let tags = base?.tags;
  if (opts.tags !== undefined) {
    if (typeof opts.tags !== 'function') validateTags(`${path}tags`, opts.tags);
    tags = opts.tags;
  }
  if (opts.captureDependencies !== undefined && typeof opts.captureDependencies !== 'boolean') {
    throw new CacheConfigError(
      `${path}captureDependencies`,
      opts.captureDependencies,
      'expected true or false',
    );
  }
  const capture = opts.captureDependencies ?? base?.capture ?? true;
  const fresh = resolveFreshness(path, opts, base?.fresh, sliding);
  let softTimeout = base?.softTimeout ?? 0;
  let hardTimeout = base?.hardTimeout ?? 0;
  if (opts.timeouts !== undefined) {
    const t = opts.timeouts;
    if (!t || typeof t !== 'object')
      throw new CacheConfigError(`${path}timeouts`, t, 'expected { soft?, hard? }');
    if (t.soft !== undefined) softTimeout = parseDuration(`${path}timeouts.soft`, t.soft);
    if (t.hard !== undefined) hardTimeout = parseDuration(`${path}timeouts.hard`, t.hard);
    if (softTimeout > 0 && hardTimeout > 0 && softTimeout >= hardTimeout) {
      throw new CacheConfigError(`${path}timeouts.soft`, t.soft, 'must be shorter than timeouts.hard');
    }
  }
  const lock = opts.lock !== undefined ? resolveLock(`${path}lock`, opts.lock) : base?.lock;
  if (opts.encrypt !== undefined && typeof opts.encrypt !== 'boolean') {
    throw new CacheConfigError(`${path}encrypt`, opts.encrypt, 'expected true or false');
  }
  const encrypt = opts.encrypt ?? base?.encrypt ?? false;
  return {
    ttl: { ttl, jitter, sliding, negativeTtl },
    tags,
    capture,
    fresh,
    encrypt,
    softTimeout,
    hardTimeout,
    lock,
    listen: base?.listen,
  };
}

function resolveLock(path: string, l: boolean | LockOptions): ResolvedEntry['lock'] {
  if (l === false) return undefined;
  const o: LockOptions = l === true ? {} : l;
  if (!o || typeof o !== 'object')
    throw new CacheConfigError(path, l, 'expected true, false or { ttl?, wait?, onTimeout? }');
  const onTimeout = o.onTimeout ?? 'load';
  if (onTimeout !== 'load' && onTimeout !== 'fail') {
    throw new CacheConfigError(`${path}.onTimeout`, o.onTimeout, "expected 'load' or 'fail'");
  }
  return {
    ttl: parseDuration(`${path}.ttl`, o.ttl ?? '10s'),
    wait: parseDuration(`${path}.wait`, o.wait ?? '5s'),
    onTimeout,
  };
}

/** What a tag name must be; shared by every place that takes tags. */
export const TAG_RULE = 'a tag must be a non-empty, well-formed string without line breaks or \\x1f';

/** Checks that tags are an array of non-empty strings. */
export function validateTags(option: string, tags: unknown): asserts tags is readonly string[] {
  if (!Array.isArray(tags)) throw new CacheConfigError(option, tags, 'expected an array of tag names');
  for (let i = 0; i < tags.length; i++) {
    if (typeof tags[i] !== 'string' || tags[i] === '' || !isHeaderSafe(tags[i])) {
      throw new CacheConfigError(`${option}[${i}]`, tags[i], TAG_RULE);
    }
  }
}
