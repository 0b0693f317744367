/** Percentiles of recent samples, in ms. */
export interface LatencySummary {
  /** Samples recorded since start (the percentiles cover the most recent ones). */
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** A snapshot of a write-behind cache, as returned by `stats()`. */
export interface WriteBehindStats {
  /** Writes appended and not yet acknowledged by a flush, queue-wide (as of `depthAt`). */
  pending: number;
  /** Age of the oldest of them, ms (0 when none). */
  oldestPendingMs: number;
  /** When the two figures above were read, ms since the epoch (0: not yet). */
  depthAt: number;
  /** Writes this process appended (acknowledged saves and removes). */
  enqueued: number;
  /** Rows this process's flusher wrote to the database. */
  flushed: number;
  /** Queue entries acknowledged without a database write because a newer version of their row won. */
  coalesced: number;
  /** Transactions committed by this process's flusher. */
  batches: number;
  /** Rows per committed transaction. */
  batchSize: { count: number; mean: number; max: number };
  /** Time to persist one batch (transaction), ms. */
  flushLatency: LatencySummary;
  /** Time from append (acknowledgment) to the commit that made each write durable in the database, ms. */
  lag: LatencySummary;
  /** Failed persist attempts that were retried (counted per row). */
  retries: number;
  /** Writes moved to the dead-letter log. */
  deadLetters: number;
  /** Failures of the queue itself (Redis unreachable…); the flusher keeps trying. */
  queueErrors: number;
}

const RESERVOIR = 1024;

/** The latest samples, for percentiles without unbounded memory. */
export class Reservoir {
  private readonly samples = new Float64Array(RESERVOIR);
  private n = 0;
  private maxSeen = 0;

  /** Records one sample. */
  add(ms: number): void {
    this.samples[this.n % RESERVOIR] = ms;
    this.n++;
    if (ms > this.maxSeen) this.maxSeen = ms;
  }

  /** Percentiles of the samples kept. */
  summary(): LatencySummary {
    const k = Math.min(this.n, RESERVOIR);
    if (k === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
    const sorted = Array.from(this.samples.subarray(0, k)).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(k - 1, Math.floor(q * k))];
    return { count: this.n, p50: at(0.5), p99: at(0.99), max: this.maxSeen };
  }
}

/** Mutable counters behind `WriteBehindStats`. */
export class WriteBehindCounters {
  pending = 0;
  oldestAppendedAt: number | undefined;
  depthAt = 0;
  enqueued = 0;
  flushed = 0;
  coalesced = 0;
  batches = 0;
  batchRows = 0;
  batchMax = 0;
  retries = 0;
  deadLetters = 0;
  queueErrors = 0;
  readonly flushLatency = new Reservoir();
  readonly lag = new Reservoir();

  /** Records one committed batch of `rows` rows that took `ms`. */
  recordBatch(rows: number, ms: number): void {
    this.batches++;
    this.batchRows += rows;
    if (rows > this.batchMax) this.batchMax = rows;
    this.flushLatency.add(ms);
  }

  /** The public snapshot. */
  snapshot(): WriteBehindStats {
    return {
      pending: this.pending,
      oldestPendingMs:
        this.oldestAppendedAt === undefined ? 0 : Math.max(0, this.depthAt - this.oldestAppendedAt),
      depthAt: this.depthAt,
      enqueued: this.enqueued,
      flushed: this.flushed,
      coalesced: this.coalesced,
      batches: this.batches,
      batchSize: {
        count: this.batches,
        mean: this.batches === 0 ? 0 : this.batchRows / this.batches,
        max: this.batchMax,
      },
      flushLatency: this.flushLatency.summary(),
      lag: this.lag.summary(),
      retries: this.retries,
      deadLetters: this.deadLetters,
      queueErrors: this.queueErrors,
    };
  }
}
