/** Upper bounds (ms) of the load-time histogram buckets; the last bucket is everything above. */
export const LOAD_TIME_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

/** A snapshot of a cache's counters, as returned by `cache.stats()`. */
export interface CacheStats {
  /** Hits from either layer. */
  hits: number;
  /** Calls that found no usable entry in any layer. */
  misses: number;
  /** hits / (hits + misses), or 0 before any lookup. */
  hitRatio: number;
  l1: { hits: number; misses: number; entries: number; bytes: number; evictions: number };
  l2: {
    hits: number;
    misses: number;
    stale: number;
    errors: number;
    timeouts: number;
    /** Operations skipped because the circuit breaker was open. */
    skipped: number;
    /** Times the circuit breaker opened. */
    circuitOpens: number;
    /** Circuit breaker state now (`closed` when there is none). */
    circuit: 'closed' | 'open' | 'half-open';
    /** Invalidations waiting for the L2 to come back. */
    pendingInvalidations: number;
  };
  /** Loader runs. */
  loads: number;
  /** Loader runs that threw or rejected. */
  loadErrors: number;
  /** Callers rejected by the hard loader timeout. */
  loadTimeouts: number;
  /** Loader durations: count, total and cumulative-free buckets (`le` in ms; `Infinity` is the overflow). */
  loadTime: { count: number; sumMs: number; buckets: { le: number; count: number }[] };
  sets: number;
  deletes: number;
  invalidations: number;
  /** Values not cached because they exceeded `maxEntryBytes`. */
  oversize: number;
  /** Values not cached because they could not be serialized. */
  serializationErrors: number;
  /** Encrypted entries that could not be decrypted (tampered, or an unknown key): read as misses. */
  decryptErrors: number;
  /** Callers that waited on another caller's load instead of loading themselves. */
  coalesced: number;
  /** Grace, refresh-ahead and early refresh. */
  freshness: {
    /** Stale values served (within grace) while a refresh ran. */
    staleServed: number;
    /** Background refreshes started (grace, refresh-ahead, XFetch). */
    refreshes: number;
    /** Of which refresh-ahead or XFetch, started while the entry was still fresh. */
    earlyRefreshes: number;
    /** Background refreshes whose loader failed (the stale value stays). */
    refreshErrors: number;
  };
  /** The L1 invalidation bus (all zero without one). */
  bus: {
    /** Whether L1 is trusted now (false while the bus is disconnected). */
    live: boolean;
    published: number;
    received: number;
    reconnects: number;
    /** Send-to-receive delay of the last 1,000 messages from other instances, ms. */
    lagMs: { p50: number; p99: number };
  };
  /** The cross-process load lock. */
  locks: { acquired: number; waits: number; timeouts: number };
  /**
   * Lookups per namespace: `_` is the root, `orders.archive` a nested one; tenants count in
   * their namespace. Past 100 names, the rest are counted together under `~other`.
   */
  namespaces: Record<string, NamespaceStats>;
}

/** Lookups of one namespace, in `CacheStats.namespaces`. */
export interface NamespaceStats {
  /** Hits from either layer. */
  hits: number;
  /** Lookups no layer could answer. */
  misses: number;
  l1: { hits: number; misses: number };
  l2: { hits: number; misses: number };
}

/** Mutable lookup counters of one namespace; its scopes hold them, so a hit costs one increment. */
export class NamespaceCounters {
  l1Hits = 0;
  l1Misses = 0;
  l2Hits = 0;
  l2Misses = 0;
  misses = 0;

  snapshot(): NamespaceStats {
    return {
      hits: this.l1Hits + this.l2Hits,
      misses: this.misses,
      l1: { hits: this.l1Hits, misses: this.l1Misses },
      l2: { hits: this.l2Hits, misses: this.l2Misses },
    };
  }
}

/** Distinct namespace names counted apart; namespaces made per request must not grow memory. */
const MAX_NAMESPACES = 100;
/** Where namespaces past the limit are counted. `~` cannot start a namespace name. */
const OTHER_NAMESPACES = '~other';

/**
 * The name a namespace path is counted under: `_` for the root (as in keys), tenant segments
 * (`@id`) left out so that tenants do not multiply the names.
 */
export function namespaceLabel(path: string): string {
  // A tenant is a segment of its own (`@id.orders`) or a suffix of one (`orders@id`).
  const name = path.includes('@')
    ? path
        .split('.')
        .map((seg) => seg.replace(/@.*$/, ''))
        .filter((seg) => seg !== '')
        .join('.')
    : path;
  return name === '' ? '_' : name;
}

/** Mutable counters behind `CacheStats`, shared by a cache and its namespaces (lookups: per namespace). */
export class StatsCounters {
  l1Evictions = 0;
  l2Stale = 0;
  l2Errors = 0;
  l2Timeouts = 0;
  l2Skipped = 0;
  circuitOpens = 0;
  loads = 0;
  loadErrors = 0;
  loadTimeouts = 0;
  loadSumMs = 0;
  readonly loadBuckets = new Array<number>(LOAD_TIME_BUCKETS_MS.length + 1).fill(0);
  sets = 0;
  deletes = 0;
  invalidations = 0;
  oversize = 0;
  serializationErrors = 0;
  decryptErrors = 0;
  coalesced = 0;
  staleServed = 0;
  refreshes = 0;
  earlyRefreshes = 0;
  refreshErrors = 0;
  locksAcquired = 0;
  lockWaits = 0;
  lockTimeouts = 0;
  busPublished = 0;
  busReceived = 0;
  busReconnects = 0;
  private readonly busLags: number[] = [];
  private busLagAt = 0;
  private readonly byNamespace = new Map<string, NamespaceCounters>();

  /** The counters of a namespace path (see `namespaceLabel`), shared by every scope of that name. */
  namespace(path: string): NamespaceCounters {
    let label = namespaceLabel(path);
    let c = this.byNamespace.get(label);
    if (c !== undefined) return c;
    if (this.byNamespace.size >= MAX_NAMESPACES) {
      label = OTHER_NAMESPACES;
      c = this.byNamespace.get(label);
      if (c !== undefined) return c;
    }
    c = new NamespaceCounters();
    this.byNamespace.set(label, c);
    return c;
  }

  /** Records one message's send-to-receive delay (a ring of the last 1,000). */
  recordBusLag(ms: number): void {
    if (this.busLags.length < 1000) this.busLags.push(ms);
    else this.busLags[this.busLagAt++ % 1000] = ms;
  }

  private busLagPercentile(p: number): number {
    if (this.busLags.length === 0) return 0;
    const s = [...this.busLags].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(s.length * p))];
  }

  /** Records one loader run's duration. */
  recordLoad(ms: number): void {
    this.loads++;
    this.loadSumMs += ms;
    let i = 0;
    while (i < LOAD_TIME_BUCKETS_MS.length && ms > LOAD_TIME_BUCKETS_MS[i]) i++;
    this.loadBuckets[i]++;
  }

  /** Builds the public snapshot; L1 size figures come from the L1 itself. */
  snapshot(
    l1Entries: number,
    l1Bytes: number,
    circuit: CacheStats['l2']['circuit'] = 'closed',
    pendingInvalidations = 0,
    busLive = false,
  ): CacheStats {
    // Lookups are counted once, per namespace (one increment on a hit); the totals are their sums.
    const t = new NamespaceCounters();
    const namespaces: Record<string, NamespaceStats> = {};
    for (const [name, c] of this.byNamespace) {
      t.l1Hits += c.l1Hits;
      t.l1Misses += c.l1Misses;
      t.l2Hits += c.l2Hits;
      t.l2Misses += c.l2Misses;
      t.misses += c.misses;
      namespaces[name] = c.snapshot();
    }
    const hits = t.l1Hits + t.l2Hits;
    const lookups = hits + t.misses;
    return {
      hits,
      misses: t.misses,
      hitRatio: lookups === 0 ? 0 : hits / lookups,
      l1: {
        hits: t.l1Hits,
        misses: t.l1Misses,
        entries: l1Entries,
        bytes: l1Bytes,
        evictions: this.l1Evictions,
      },
      l2: {
        hits: t.l2Hits,
        misses: t.l2Misses,
        stale: this.l2Stale,
        errors: this.l2Errors,
        timeouts: this.l2Timeouts,
        skipped: this.l2Skipped,
        circuitOpens: this.circuitOpens,
        circuit,
        pendingInvalidations,
      },
      loads: this.loads,
      loadErrors: this.loadErrors,
      loadTimeouts: this.loadTimeouts,
      loadTime: {
        count: this.loads,
        sumMs: this.loadSumMs,
        buckets: this.loadBuckets.map((count, i) => ({ le: LOAD_TIME_BUCKETS_MS[i] ?? Infinity, count })),
      },
      sets: this.sets,
      deletes: this.deletes,
      invalidations: this.invalidations,
      oversize: this.oversize,
      serializationErrors: this.serializationErrors,
      decryptErrors: this.decryptErrors,
      coalesced: this.coalesced,
      freshness: {
        staleServed: this.staleServed,
        refreshes: this.refreshes,
        earlyRefreshes: this.earlyRefreshes,
        refreshErrors: this.refreshErrors,
      },
      bus: {
        live: busLive,
        published: this.busPublished,
        received: this.busReceived,
        reconnects: this.busReconnects,
        lagMs: { p50: this.busLagPercentile(0.5), p99: this.busLagPercentile(0.99) },
      },
      locks: { acquired: this.locksAcquired, waits: this.lockWaits, timeouts: this.lockTimeouts },
      namespaces,
    };
  }
}
