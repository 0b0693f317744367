import { CacheConfigError, type CacheError, CacheStoreError, CacheTimeoutError } from '../errors';
import { receiverClassName } from '../decorators/method_decorator';
import type { HeatStore } from './heat_store';
import { encodeCall } from './replay_call';
import { withTimeout } from './with_timeout';

/** A call counted since the last flush. `member` is undefined when its arguments cannot be replayed. */
export interface Tracked {
  readonly member: string | undefined;
  n: number;
}

/**
 * Identifies one decorated method to the recorder. `@Cacheable` makes one per method; the
 * recorder keeps that method's current counts on it, which saves a Map lookup per call.
 */
export interface CallSite {
  /** @internal the recorder whose counts `calls` holds */
  owner?: HeatRecorder;
  /** @internal */
  calls?: Map<unknown, Tracked>;
}

/** Settings of a `HeatRecorder`, already validated. */
export interface HeatRecorderSettings {
  readonly store: HeatStore | undefined;
  /** The heat set's key, under the cache prefix. */
  readonly key: string;
  readonly capacity: number;
  readonly maxTracked: number;
  readonly maxArgBytes: number;
  readonly flushIntervalMs: number;
  readonly heatTtlMs: number;
  /** Longest wait for one flush. */
  readonly timeoutMs: number;
  /** Reports a failure nobody awaits (the cache's `error` event). */
  readonly report: (error: CacheError, operation: string, key?: string) => void;
}

/** Counters of the recorder, for `stats().warming.replay`. */
export interface HeatRecorderCounters {
  recorded: number;
  unreplayable: number;
  dropped: number;
  flushes: number;
  flushErrors: number;
}

/**
 * Counts calls of replay-enabled methods in memory and adds the counts to the shared heat set
 * every `flushInterval`. A decorated call costs two Map lookups and an increment; Redis sees one
 * ZINCRBY per distinct call per flush, never one per call. Memory is bounded by `maxTracked`:
 * once that many distinct calls wait for a flush, new ones are dropped (and counted) until it
 * runs. A call already hot keeps being counted, which is what replay needs.
 */
export class HeatRecorder {
  /** Calls by decorated method (its call-site object), then by cache key. */
  private sites = new Map<CallSite, Map<unknown, Tracked>>();
  private tracked = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private warnedNoStore = false;
  readonly counters: HeatRecorderCounters = {
    recorded: 0,
    unreplayable: 0,
    dropped: 0,
    flushes: 0,
    flushErrors: 0,
  };

  constructor(private readonly settings: HeatRecorderSettings) {}

  /** Distinct calls counted since the last flush. */
  get pending(): number {
    return this.tracked;
  }

  /** True while the flush timer runs (from the first recorded call until `close`). */
  get active(): boolean {
    return this.timer !== undefined;
  }

  /**
   * Counts one call. `site` identifies the decorated method (keys made by a custom key function
   * may repeat across methods), `key` is the call's cache key, computed by the caller anyway.
   */
  record(site: CallSite, method: string, self: unknown, key: unknown, args: readonly unknown[]): void {
    if (this.closed) return;
    const s = this.settings;
    if (s.store === undefined) {
      if (!this.warnedNoStore) {
        this.warnedNoStore = true;
        s.report(
          new CacheConfigError(
            'warming.heatStore',
            undefined,
            `@Cacheable({ replay: true }) on ${receiverClassName(self)}.${method}() needs a heat store: new Cache({ warming: { heatStore: new RedisHeatStore(...) } })`,
          ),
          'warming.record',
        );
      }
      return;
    }
    // A key from a custom key function may be a fresh array each call: count those by their encoding.
    let member: string | undefined;
    let encoded = false;
    if (typeof key !== 'string') {
      member = encodeCall(receiverClassName(self), method, args, s.maxArgBytes);
      encoded = true;
      key = member ?? '';
    }
    let calls = site.owner === this ? site.calls! : this.sites.get(site);
    if (calls === undefined) this.sites.set(site, (calls = new Map()));
    site.owner = this;
    site.calls = calls;
    const t = calls.get(key);
    if (t !== undefined) {
      t.n++;
      this.counters.recorded++;
      return;
    }
    if (this.tracked >= s.maxTracked) {
      this.counters.dropped++;
      return;
    }
    if (!encoded) member = encodeCall(receiverClassName(self), method, args, s.maxArgBytes);
    if (member === undefined) this.counters.unreplayable++;
    calls.set(key, { member, n: 1 });
    this.tracked++;
    this.counters.recorded++;
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.flush(), s.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Adds the counts gathered so far to the heat set. Never rejects: a failure is counted and reported. */
  flush(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing;
    const store = this.settings.store;
    if (store === undefined || this.tracked === 0) return Promise.resolve();
    const sites = this.sites;
    this.sites = new Map();
    this.tracked = 0;
    const counts = new Map<string, number>();
    for (const [site, calls] of sites) {
      if (site.owner === this) site.owner = site.calls = undefined;
      for (const t of calls.values()) {
        if (t.member !== undefined) counts.set(t.member, (counts.get(t.member) ?? 0) + t.n);
      }
    }
    if (counts.size === 0) return Promise.resolve();
    const { key, capacity, heatTtlMs, timeoutMs } = this.settings;
    const p = withTimeout(
      'heat.flush',
      () => store.add(key, counts, capacity, heatTtlMs),
      timeoutMs,
      key,
    ).then(
      () => {
        this.counters.flushes++;
      },
      (err: unknown) => {
        // Heat is a hint: a lost flush costs a colder next start, never a wrong answer.
        this.counters.flushErrors++;
        this.settings.report(
          err instanceof CacheTimeoutError ? err : new CacheStoreError('heat.flush', key, err),
          'warming.flush',
          key,
        );
      },
    );
    this.flushing = p.finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** Stops the timer and flushes what is left. */
  async close(): Promise<void> {
    if (this.closed) return this.flushing;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }
}
