/** A reading of cumulative hit and miss counters at one time. */
export interface HitReading {
  /** When it was taken, ms. */
  readonly at: number;
  readonly hits: number;
  readonly misses: number;
}

/** Hits and misses between two readings. */
export interface WindowCounts {
  readonly hits: number;
  readonly misses: number;
  /** hits / (hits + misses); `NaN` when there was no lookup. */
  readonly ratio: number;
  /** Start and end of the span actually covered (shorter than the window until enough time passed). */
  readonly from: number;
  readonly to: number;
}

/**
 * Hit ratios over sliding windows, from readings of cumulative counters. Memory is bounded
 * however often it is read: readings closer together than `stepMs` replace each other, and
 * only the last `windows` windows are kept, so at most `windows · windowMs / stepMs + 3`
 * readings are held.
 */
export class HitWindow {
  private readonly readings: HitReading[] = [];

  constructor(
    private readonly windowMs: number,
    private readonly stepMs: number,
    private readonly windows = 2,
  ) {}

  /** Adds a reading; readings must come in time order. */
  add(r: HitReading): void {
    const list = this.readings;
    const n = list.length;
    if (n >= 2 && r.at - list[n - 2].at < this.stepMs) list[n - 1] = r;
    else list.push(r);
    // One reading at or before the span's start is kept, so the oldest window is complete.
    const start = r.at - this.windowMs * this.windows;
    let drop = 0;
    while (list.length - drop > 2 && list[drop + 1].at <= start) drop++;
    if (drop > 0) list.splice(0, drop);
  }

  /** Readings held now (for tests of the memory bound). */
  get size(): number {
    return this.readings.length;
  }

  /**
   * Counts of the window ending `back` windows before the newest reading (0: the current one).
   * A window that started before the first reading covers less time; `undefined` when it
   * covers none.
   */
  counts(back = 0): WindowCounts | undefined {
    const list = this.readings;
    let end = list.length - 1;
    for (let i = 0; i < back; i++) {
      if (end <= 0) return undefined;
      const start = this.startOf(end);
      // A window that was already cut short has no full window before it.
      if (start === 0 && list[end].at - list[0].at < this.windowMs) return undefined;
      end = start;
    }
    if (end <= 0) return undefined;
    const to = list[end];
    const from = list[this.startOf(end)];
    const hits = to.hits - from.hits;
    const misses = to.misses - from.misses;
    if (hits < 0 || misses < 0) return undefined;
    const lookups = hits + misses;
    return { hits, misses, ratio: lookups === 0 ? NaN : hits / lookups, from: from.at, to: to.at };
  }

  /** Index of the newest reading at least a window before reading `end` (or the oldest). */
  private startOf(end: number): number {
    const list = this.readings;
    const limit = list[end].at - this.windowMs;
    let i = end - 1;
    while (i > 0 && list[i].at > limit) i--;
    return i;
  }
}
