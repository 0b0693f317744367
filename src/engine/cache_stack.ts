import { LRUCache } from 'lru-cache';
import {
  CacheConfigError,
  type CacheError,
  CacheSerializationError,
  CacheStoreError,
  CacheTimeoutError,
} from '../errors';
import type { L2Read, Store } from '../stores/store';
import { compress, decompress } from './compression';
import { parseDuration } from './duration';
import {
  compressionFlag,
  compressionOf,
  decodeEntry,
  type DecodedEntry,
  encodeEntry,
  type EntryHeader,
  isHeaderSafe,
  type L1Entry,
} from './entry';
import { CacheEvents } from './events';
import { ReadHeat } from './freshness';
import { PendingInvalidations } from './pending_invalidations';
import { L1Sync } from './l1_sync';
import { KeyRing } from './encryption';
import { currentTenant } from './tenancy';
import { CircuitBreaker } from '../resilience/circuit_breaker';
import { Deadline, DeadlineQueue } from './deadlines';
import { FlightMap } from './flight_map';
import {
  type CacheOptions,
  type CallOptions,
  type L2Options,
  type ResolvedEntry,
  positiveInt,
  resolveEntry,
} from './options';
import { jsonSerializer, msgpackSerializer, type Serializer } from './serializer';
import { StatsCounters } from './stats';
import { TagMirror } from './tag_versions';
import { type PolicyListener, policyListener } from './domain_events';

/** The outcome of an L2 operation that never rejects. */
export type Attempt<T> = { ok: true; value: T } | { ok: false; error: CacheError };

/** A decoded value, or the reason there is none. */
type Decoded = { ok: true; value: unknown } | { ok: false };

/**
 * The state a cache and all of its namespaces share: both tiers, the tag mirror, in-flight
 * loads, counters and events. It coordinates the tiers; it knows nothing of decorators or ORMs.
 */
export class CacheStack {
  readonly prefix: string;
  /** Key of the L2 invalidation sequence. */
  readonly seqKey: string;
  readonly l1: LRUCache<string, L1Entry> | undefined;
  readonly l2: Store | undefined;
  readonly shared: boolean;
  /** The sequence read in flight, shared by concurrent captures. */
  private capturing: Promise<number> | undefined;
  /** Whether Dates entering L1 are made read-only and shared by hits (see readonly_date.ts). */
  readonly readonlyDates: boolean;
  readonly mirror: TagMirror;
  readonly stats = new StatsCounters();
  readonly events = new CacheEvents();
  /** Loads in progress, by full key: concurrent callers share one. */
  readonly inflight = new FlightMap<Promise<Flight>>();
  /** Decaying read counts of adaptive-TTL keys. */
  readonly heat = new ReadHeat();
  /** Keys whose background refresh failed, with the time before which it is not retried. */
  readonly refreshBackoff = new LRUCache<string, number>({ max: 10_000 });
  /** L2 reads in progress, by full key. */
  private readonly l2Reads = new FlightMap<Promise<L2Read | undefined>>();
  /** Deadlines of L2 operations in flight, one queue per timeout of this stack (see deadlines.ts). */
  private readonly deadlines = new Map<number, DeadlineQueue>();
  readonly serializer: Serializer;
  readonly compression: { algorithm: 'gzip' | 'brotli'; threshold: number } | undefined;
  readonly maxEntryBytes: number;
  readonly maxKeyLength: number;
  readonly tagVersionTtl: number;
  readonly l2Timeout: number;
  readonly l2WriteTimeout: number;
  /** Undefined without an L2, or when turned off. */
  readonly breaker: CircuitBreaker | undefined;
  /** L1 TTL cap while the L2 is unreachable. */
  readonly l1TtlWhileDown: number;
  /** Invalidations waiting for the L2 to come back. */
  readonly pending: PendingInvalidations;
  private pendingFlush: Promise<boolean> | undefined;
  /** Tenant scoping, when on. */
  readonly tenancy: { resolve: () => string | undefined; required: boolean } | undefined;
  /** Keys for encrypted entries. */
  readonly keyring: KeyRing | undefined;
  /** L1 invalidation across instances; set by the Cache when a bus is in use. */
  sync: L1Sync | undefined;
  readonly defaults: ResolvedEntry;
  private readonly policies = new Map<string, ResolvedEntry>();
  /** The policies listening to each domain event (`invalidateOn`). */
  readonly listeners = new Map<string, PolicyListener[]>();
  /** Resolved call options, by the options object itself: decorators pass the same object every call. */
  private readonly resolved = new WeakMap<object, ResolvedEntry>();
  closed = false;

  constructor(options: CacheOptions) {
    const prefix = options.prefix ?? 'cachekit';
    if (typeof prefix !== 'string' || prefix === '' || /\s/.test(prefix) || !isHeaderSafe(prefix)) {
      throw new CacheConfigError('prefix', prefix, 'expected a non-empty string without spaces');
    }
    this.prefix = prefix;
    this.seqKey = `${prefix}:__:seq`;
    this.tagVersionTtl = parseDuration('tagVersionTtl', options.tagVersionTtl ?? '30d');
    this.maxEntryBytes = positiveInt('maxEntryBytes', options.maxEntryBytes, 1024 * 1024);
    this.maxKeyLength = positiveInt('maxKeyLength', options.maxKeyLength, 200);
    if (this.maxKeyLength < 64)
      throw new CacheConfigError('maxKeyLength', options.maxKeyLength, 'must be at least 64');
    this.mirror = new TagMirror(positiveInt('maxMirroredTags', options.maxMirroredTags, 100_000));
    this.serializer = resolveSerializer(options.serializer);
    this.keyring = options.encryption === undefined ? undefined : new KeyRing(options.encryption);
    const t = options.tenancy;
    if (t !== undefined && (typeof t !== 'object' || t === null)) {
      throw new CacheConfigError('tenancy', t, 'expected { resolve?, required? }');
    }
    if (t?.resolve !== undefined && typeof t.resolve !== 'function') {
      throw new CacheConfigError('tenancy.resolve', t.resolve, 'expected a function returning the tenant id');
    }
    this.tenancy =
      t === undefined ? undefined : { resolve: t.resolve ?? currentTenant, required: t.required ?? true };
    this.compression = resolveCompression(options.compression);

    const l1 = options.l1;
    if (l1 !== false && l1 !== undefined && (typeof l1 !== 'object' || l1 === null)) {
      throw new CacheConfigError('l1', l1, 'expected L1 options or false');
    }
    this.shared = l1 ? l1.shared === true : false;
    this.readonlyDates = l1 !== false && !this.shared && l1?.copyDates !== true;
    this.l1 =
      l1 === false
        ? undefined
        : new LRUCache<string, L1Entry>({
            max: positiveInt('l1.maxEntries', l1?.maxEntries, 10_000),
            maxSize: positiveInt('l1.maxBytes', l1?.maxBytes, 64 * 1024 * 1024),
            dispose: (_v, _k, reason) => {
              if (reason === 'evict') this.stats.l1Evictions++;
            },
          });

    const l2 = options.l2;
    const l2o: Partial<L2Options> =
      l2 !== undefined && !isStore(l2) && l2 && typeof l2 === 'object' ? l2 : {};
    this.l1TtlWhileDown = parseDuration('l2.l1TtlWhileDown', l2o.l1TtlWhileDown ?? '5s');
    this.pending = new PendingInvalidations(
      positiveInt('l2.maxPendingInvalidations', l2o.maxPendingInvalidations, 10_000),
    );
    if (l2 === undefined) {
      this.l2 = undefined;
      this.l2Timeout = this.l2WriteTimeout = 0;
    } else if (isStore(l2)) {
      this.l2 = l2;
      this.l2Timeout = DEFAULT_L2_READ_TIMEOUT_MS;
      this.l2WriteTimeout = DEFAULT_L2_WRITE_TIMEOUT_MS;
    } else if (l2 && typeof l2 === 'object' && isStore(l2.store)) {
      this.l2 = l2.store;
      this.l2Timeout = parseDuration('l2.timeout', l2.timeout ?? DEFAULT_L2_READ_TIMEOUT_MS);
      this.l2WriteTimeout = parseDuration('l2.writeTimeout', l2.writeTimeout ?? DEFAULT_L2_WRITE_TIMEOUT_MS);
    } else {
      throw new CacheConfigError('l2', l2, 'expected a Store (RedisStore, KeyvStore) or { store }');
    }
    const cb = l2o.circuitBreaker;
    if (cb !== undefined && cb !== false && (typeof cb !== 'object' || cb === null)) {
      throw new CacheConfigError(
        'l2.circuitBreaker',
        cb,
        'expected { failureThreshold?, window?, cooldown? } or false',
      );
    }
    this.breaker =
      this.l2 === undefined || cb === false
        ? undefined
        : new CircuitBreaker(cb ?? {}, (state) => {
            if (state === 'open') this.stats.circuitOpens++;
            // Back: queued invalidations go out now, not only when this process next reads.
            if (state === 'closed' && !this.pending.isEmpty) void this.flushPending();
            this.events.emit('circuit', { state });
          });
    const bus = options.bus === undefined ? (this.l1 ? this.l2?.createBus?.() : undefined) : options.bus;
    if (bus !== undefined && bus !== false) {
      if (typeof bus !== 'object' || typeof bus.start !== 'function' || typeof bus.publish !== 'function') {
        throw new CacheConfigError('bus', bus, 'expected a Bus { start, publish, close } or false');
      }
      this.sync = new L1Sync(this, bus);
    }
    if (!this.l1 && !this.l2)
      throw new CacheConfigError('l1', l1, 'a cache needs at least one tier: enable L1 or give an L2');

    this.defaults = this.checkMaxTtl('', resolveEntry('', options, undefined));
    for (const [name, policy] of Object.entries(options.policies ?? {})) {
      if (!policy || typeof policy !== 'object') {
        throw new CacheConfigError(`policies.${name}`, policy, 'expected an object of entry options');
      }
      const resolved = this.checkMaxTtl(
        `policies.${name}.`,
        resolveEntry(`policies.${name}.`, policy, this.defaults),
      );
      const listen = policyListener(`policies.${name}.invalidateOn`, name, policy.invalidateOn);
      this.policies.set(name, listen === undefined ? resolved : { ...resolved, listen });
      if (listen !== undefined) {
        for (const event of new Set(policy.invalidateOn)) {
          const ls = this.listeners.get(event);
          if (ls === undefined) this.listeners.set(event, [listen]);
          else ls.push(listen);
        }
      }
    }
  }

  /**
   * Subscribes to the bus. Called by the cache once it is fully built: a constructor that throws
   * on a bad option must not leave a subscriber connection behind (on Cluster it would keep the
   * process alive).
   */
  startSync(): void {
    void this.sync
      ?.start()
      .catch((err: unknown) => this.report(new CacheStoreError('bus.start', undefined, err), 'bus.start'));
  }

  /** Entry settings for a call: cached by options object, so a decorator's options are validated once. */
  resolve(options: CallOptions<any> | undefined): ResolvedEntry {
    if (options === undefined) return this.defaults;
    let r = this.resolved.get(options);
    if (r !== undefined) return r;
    let base = this.defaults;
    if (options.policy !== undefined) {
      const p = this.policies.get(options.policy);
      if (!p) {
        throw new CacheConfigError(
          'policy',
          options.policy,
          `no such policy; known: ${[...this.policies.keys()].join(', ') || 'none'}`,
        );
      }
      base = p;
    }
    r = this.checkMaxTtl('', resolveEntry('', options, base));
    this.resolved.set(options, r);
    return r;
  }

  /** Reports a failure the caller does not see: counted, and emitted to `error` listeners. */
  report(error: CacheError, operation: string, key?: string): void {
    this.events.emit('error', { error, operation, key });
  }

  /**
   * Runs an L2 operation with a time limit. Failures and time-outs are counted and reported,
   * and come back as a value, never as a rejection: the cache is never required.
   */
  attempt<T>(
    operation: string,
    key: string | undefined,
    op: () => Promise<T>,
    timeoutMs: number,
  ): Promise<Attempt<T>> {
    return this.limited<T, Attempt<T>>(operation, key, op, timeoutMs, asSuccess, asFailure);
  }

  /** `attempt`, keeping only the value: `undefined` when L2 failed. */
  guard<T>(
    operation: string,
    key: string | undefined,
    op: () => Promise<T>,
    timeoutMs: number,
  ): Promise<T | undefined> {
    return this.limited<T, T | undefined>(operation, key, op, timeoutMs, identity, nothing);
  }

  /** `attempt` for invalidations: their loss must reach the caller, so a failure rejects. */
  async strict<T>(operation: string, key: string | undefined, op: () => Promise<T>): Promise<T> {
    const r = await this.attempt(operation, key, op, this.l2WriteTimeout);
    if (!r.ok) throw r.error;
    return r.value;
  }

  /**
   * What `attempt` and `guard` share: the circuit breaker, the time limit, the counting and
   * reporting; `ok` and `failed` shape the outcome (called synchronously when the circuit is
   * open). One promise per call, no async frame: the L2 read of every Redis hit comes here.
   */
  private limited<T, R>(
    operation: string,
    key: string | undefined,
    op: () => Promise<T>,
    timeoutMs: number,
    ok: (value: T) => R,
    failed: (error: CacheError) => R,
  ): Promise<R> {
    const breaker = this.breaker;
    if (breaker !== undefined && !breaker.allow()) {
      // Open circuit: skip at once, quietly (one error event per skipped call would flood).
      this.stats.l2Skipped++;
      return Promise.resolve(failed(CIRCUIT_OPEN));
    }
    let p: Promise<T>;
    try {
      p = op();
    } catch (err) {
      p = Promise.reject(err);
    }
    return new Promise<R>((resolve) => {
      const fail = (error: CacheError) => {
        this.stats.l2Errors++;
        breaker?.failure();
        this.report(error, operation, key);
        resolve(failed(error));
      };
      const deadline = this.deadline(timeoutMs, () => {
        this.stats.l2Timeouts++;
        fail(new CacheTimeoutError(operation, timeoutMs, key));
      });
      p.then(
        (value) => {
          if (!deadline.settle()) return;
          breaker?.success();
          resolve(ok(value));
        },
        (err: unknown) => {
          if (deadline.settle()) fail(new CacheStoreError(operation, key, err));
        },
      );
    });
  }

  /**
   * A time limit: the stack's own L2 timeouts, which every read or write shares, each have one
   * queue and one timer (see deadlines.ts); any other duration (a lock wait's) gets a timer.
   */
  private deadline(ms: number, onExpire: () => void): Deadline {
    if (ms !== this.l2Timeout && ms !== this.l2WriteTimeout) return Deadline.timed(ms, onExpire);
    let q = this.deadlines.get(ms);
    if (q === undefined) this.deadlines.set(ms, (q = new DeadlineQueue(ms)));
    return q.add(onExpire);
  }

  /**
   * An L2 read with tag check, shared by concurrent callers of one key. A flight passes
   * `shared = false`: it is already the only load of its key in this process, and registering
   * its read cost a hash of a fresh key string and two map updates per Redis hit (~0.5 µs).
   */
  readL2(key: string, shared = true): Promise<L2Read | undefined> {
    let p = shared ? this.l2Reads.get(key) : undefined;
    if (p !== undefined) return p;
    if (!this.pending.isEmpty) {
      // Invalidations made while L2 was unreachable go first: no read may be served before them.
      p = this.flushPending().then((ok) => (ok ? this.readL2(key, shared) : undefined));
      return p;
    }
    const store = this.l2!;
    const read = () =>
      store.readValidated
        ? store.readValidated(key, this.seqKey, this.l1 !== undefined)
        : this.genericRead(store, key);
    if (!shared) return this.guard('l2.read', key, read, this.l2Timeout);
    const reads = this.l2Reads;
    let settled = false;
    const done = <R>(r: R): R => {
      settled = true;
      if (p !== undefined) reads.settle(key, p);
      return r;
    };
    p = this.limited<L2Read, L2Read | undefined>('l2.read', key, read, this.l2Timeout, done, () =>
      done(undefined),
    );
    // Settled already (an open circuit): nothing to share.
    if (!settled) reads.set(key, p);
    return p;
  }

  /**
   * Applies the invalidations queued while the L2 was unreachable; resolves whether they all
   * reached it. One flush at a time; a failed one puts its tags back.
   */
  flushPending(): Promise<boolean> {
    if (this.pending.isEmpty) return Promise.resolve(true);
    if (this.pendingFlush !== undefined) return this.pendingFlush;
    const keys = this.pending.take(`${this.prefix}:__:ns:_`);
    const l2 = this.l2!;
    const flush = this.attempt(
      'l2.invalidate',
      undefined,
      () => l2.invalidate(this.seqKey, keys, this.tagVersionTtl),
      this.l2WriteTimeout,
    ).then((r) => {
      this.pendingFlush = undefined;
      if (!r.ok) {
        this.pending.add(keys);
        return false;
      }
      for (const k of keys) this.mirror.note(k, r.value);
      this.sync?.publishTags(keys, r.value);
      return true;
    });
    this.pendingFlush = flush;
    return flush;
  }

  /** The L1 to fill, or undefined while the bus is down (an entry could miss its invalidation). */
  get fillableL1(): LRUCache<string, L1Entry> | undefined {
    return this.sync === undefined || this.sync.live ? this.l1 : undefined;
  }

  /** Whether L2 is believed reachable (no breaker, or a closed one). */
  get l2Healthy(): boolean {
    return this.breaker === undefined || this.breaker.state === 'closed';
  }

  /**
   * The invalidation sequence to capture before loading. Callers in flight together share one
   * read: each one's loader starts only after the read returns, so a shared value is never
   * newer than what its loader will see, and an older one only makes its entry look older.
   */
  captureSeq(): Promise<number> {
    if (!this.l2) return Promise.resolve(this.mirror.captureLocal());
    let p = this.capturing;
    if (p !== undefined) return p;
    p = this.readSeq();
    this.capturing = p;
    const clear = () => {
      if (this.capturing === p) this.capturing = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  private async readSeq(): Promise<number> {
    const s = await this.guard(
      'l2.captureSeq',
      undefined,
      () => this.l2!.captureSeq(this.seqKey),
      this.l2Timeout,
    );
    if (s === undefined) return this.mirror.captureLocal(); // an underestimate: only ever makes entries look older
    this.mirror.observeSeq(s);
    return s;
  }

  /** Decodes an L2 entry into a value; anything unreadable is reported and treated as a miss. */
  decode(
    key: string,
    data: Buffer,
    entry: DecodedEntry | undefined = decodeEntry(data),
  ): { value: unknown; header: EntryHeader } | undefined {
    if (!entry) {
      this.report(new CacheSerializationError(key, 'entry', 'not a cachekit entry'), 'decode', key);
      return undefined;
    }
    const c = entry.header.c;
    if (c !== this.serializer.name && c !== RAW_STRING_CODEC) {
      this.report(
        new CacheSerializationError(
          key,
          'entry',
          `written by serializer "${entry.header.c}", this cache uses "${this.serializer.name}"`,
        ),
        'decode',
        key,
      );
      return undefined;
    }
    const d = this.decodePayload(key, entry.payload, entry.header);
    return d.ok ? { value: d.value, header: entry.header } : undefined;
  }

  private decodePayload(key: string, payload: Buffer, header: EntryHeader): Decoded {
    if (header.k !== undefined) {
      // A tampered entry, or one under a key this process does not hold, is a miss, never a throw.
      try {
        if (this.keyring === undefined) throw new Error('no encryption keys are configured');
        payload = this.keyring.open(header.k, payload);
      } catch (err) {
        this.stats.decryptErrors++;
        this.report(
          new CacheSerializationError(key, 'value', `cannot decrypt: ${(err as Error).message}`, {
            cause: err,
          }),
          'decrypt',
          key,
        );
        return { ok: false };
      }
    }
    try {
      const bytes = decompress(payload, compressionOf(header.z), this.maxEntryBytes);
      return {
        ok: true,
        value: header.c === RAW_STRING_CODEC ? bytes.toString('utf8') : this.serializer.decode(bytes),
      };
    } catch (err) {
      this.stats.serializationErrors++;
      this.report(
        new CacheSerializationError(key, 'value', (err as Error).message, { cause: err }),
        'decode',
        key,
      );
      return { ok: false };
    }
  }

  /** Serializes a value, or reports why it cannot be cached. */
  encode(key: string, value: unknown): Buffer | undefined {
    let payload: Buffer;
    try {
      payload =
        this.codecOf(value) === RAW_STRING_CODEC
          ? Buffer.from(value as string, 'utf8')
          : this.serializer.encode(value);
    } catch (err) {
      this.stats.serializationErrors++;
      const e =
        err instanceof CacheSerializationError
          ? new CacheSerializationError(key, err.path, err.reason, { cause: err })
          : new CacheSerializationError(key, 'value', (err as Error)?.message ?? String(err), { cause: err });
      this.report(e, 'encode', key);
      return undefined;
    }
    if (payload.length > this.maxEntryBytes) {
      this.stats.oversize++;
      return undefined;
    }
    return payload;
  }

  /** The codec an entry of `value` is written with (its header's `c`). */
  codecOf(value: unknown): string {
    // A lone surrogate has no UTF-8 form (it would come back as U+FFFD): the serializer escapes it.
    return typeof value === 'string' && (value as unknown as WellFormed).isWellFormed()
      ? RAW_STRING_CODEC
      : this.serializer.name;
  }

  /** Builds the L2 bytes of an entry: compressed, then encrypted when asked. */
  frame(header: EntryHeader, payload: Buffer, encrypt = false): Buffer {
    const c = compress(payload, this.compression);
    const z = compressionFlag(c.algorithm);
    if (z) header.z = z;
    if (encrypt && this.keyring !== undefined) {
      header.k = this.keyring.current;
      return encodeEntry(header, this.keyring.seal(c.bytes));
    }
    return encodeEntry(header, c.bytes);
  }

  private async genericRead(store: Store, key: string): Promise<L2Read> {
    const v = await store.get(key);
    if (v === undefined) return { kind: 'miss', seq: undefined };
    const entry = decodeEntry(v.data);
    if (!entry) return { kind: 'miss', seq: undefined };
    const tags = entry.header.t;
    if (tags !== undefined && tags.length > 0) {
      const versions = await store.getVersions(tags);
      for (let i = 0; i < versions.length; i++) {
        if (versions[i] > entry.header.s)
          return { kind: 'stale', seq: undefined, data: v.data, remainingMs: v.remainingMs };
      }
    }
    const sl = entry.header.sl;
    if (sl !== undefined && sl > 0)
      void this.guard('l2.touch', key, () => store.touch(key, sl), this.l2WriteTimeout);
    return { kind: 'hit', data: v.data, remainingMs: v.remainingMs };
  }

  private checkMaxTtl(path: string, r: ResolvedEntry): ResolvedEntry {
    if (r.encrypt && this.keyring === undefined) {
      throw new CacheConfigError(
        `${path}encrypt`,
        true,
        'needs keys: pass `encryption` (e.g. encryptionFromEnv() with CACHEKIT_ENCRYPTION_KEYS set)',
      );
    }
    if (typeof r.ttl.ttl === 'number' && r.ttl.ttl > this.tagVersionTtl) {
      throw new CacheConfigError(
        `${path}ttl`,
        r.ttl.ttl,
        `must not exceed tagVersionTtl (${this.tagVersionTtl} ms): an entry must not outlive the record of its invalidation`,
      );
    }
    return r;
  }
}

/* How `attempt` and `guard` shape the outcome of `limited`: made once, not per call. */
const asSuccess = <T>(value: T): Attempt<T> => ({ ok: true, value });
const asFailure = <T>(error: CacheError): Attempt<T> => ({ ok: false, error });
const identity = <T>(value: T): T => value;
const nothing = (): undefined => undefined;

/** What a skipped L2 operation reports: the circuit is open. */
const CIRCUIT_OPEN = new CacheStoreError('circuit', undefined, new Error('the L2 circuit breaker is open'));

/** The outcome of one load, shared by every caller that waited on it. */
export interface Flight {
  /** What the loader (or L2) returned: handed to the caller that started the flight. */
  readonly value: unknown;
  /** The copy kept in L1, which waiters clone; undefined when the value was not cacheable. */
  readonly stored: unknown;
  readonly cached: boolean;
  /** The value is past its TTL (within grace) or invalidated (graceOnInvalidate): refresh it. */
  readonly stale?: true;
  /** The value is fresh but due for refresh-ahead or an XFetch early refresh. */
  readonly early?: boolean;
  /** The entry's TTL adapts to reads: count this one. */
  readonly adaptive?: boolean;
  /** The entry's full tag keys, for a load this call is nested in. */
  readonly tags?: readonly string[];
}

function isStore(x: unknown): x is Store {
  return !!x && typeof (x as Store).get === 'function' && typeof (x as Store).invalidate === 'function';
}

/**
 * The codec of string values, whatever the serializer: their UTF-8 bytes as they are. Strings
 * are common values (TypeORM's query cache stores each result as one JSON string), and a
 * serializer would escape every quote on the way in and unescape it on the way out. `$` cannot
 * start a serializer's name, so no serializer can claim it.
 */
export const RAW_STRING_CODEC = '$s';

/**
 * Default L2 read limit. A healthy Redis on the same network answers in about a millisecond;
 * 100 ms bounds what a sick Redis adds to a call before the loader answers instead, yet leaves
 * room for a major GC pause or a saturated event loop (50 ms made reads on a loaded 2-core
 * machine time out while Redis was healthy).
 */
export const DEFAULT_L2_READ_TIMEOUT_MS = 100;
/** Default L2 write limit: writes (and invalidations) are not on a caller's critical path as reads are. */
export const DEFAULT_L2_WRITE_TIMEOUT_MS = 1000;

/** String#isWellFormed: in Node 20, not yet in the ES2022 lib this package compiles against. */
interface WellFormed {
  isWellFormed(): boolean;
}

function resolveSerializer(s: CacheOptions['serializer']): Serializer {
  if (s === undefined || s === 'json') return jsonSerializer;
  if (s === 'msgpack') return msgpackSerializer();
  if (
    s &&
    typeof s === 'object' &&
    typeof s.encode === 'function' &&
    typeof s.decode === 'function' &&
    typeof s.name === 'string' &&
    /^[\w.-]+$/.test(s.name)
  ) {
    return s;
  }
  throw new CacheConfigError(
    'serializer',
    s,
    "expected 'json', 'msgpack' or a Serializer { name, encode, decode } whose name is letters, digits, _ . -",
  );
}

function resolveCompression(c: CacheOptions['compression']): CacheStack['compression'] {
  if (c === undefined || c === false) return undefined;
  if (typeof c !== 'object' || c === null)
    throw new CacheConfigError('compression', c, 'expected { algorithm?, threshold? } or false');
  const algorithm = c.algorithm ?? 'gzip';
  if (algorithm !== 'gzip' && algorithm !== 'brotli') {
    throw new CacheConfigError('compression.algorithm', algorithm, "expected 'gzip' or 'brotli'");
  }
  const threshold = c.threshold ?? 1024;
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0) {
    throw new CacheConfigError('compression.threshold', threshold, 'expected a byte count ≥ 0');
  }
  return { algorithm, threshold };
}
