/**
 * Tag bumps that could not reach the L2, kept until it is back, so that no invalidation is lost
 * to an outage. Bounded: past `max` tags, one bump of the cache's root namespace replaces them
 * all (everything becomes stale, which is safe).
 */
export class PendingInvalidations {
  private tags = new Set<string>();
  /** True once more tags were queued than `max`: the flush bumps the root namespace instead. */
  overflowed = false;

  constructor(private readonly max: number) {}

  /** Queues tag-version keys. */
  add(keys: readonly string[]): void {
    if (this.overflowed) return;
    for (const k of keys) this.tags.add(k);
    if (this.tags.size > this.max) {
      this.overflowed = true;
      this.tags.clear();
    }
  }

  /** Tags waiting (0 after an overflow, which is tracked by `overflowed`). */
  get size(): number {
    return this.tags.size;
  }

  /** Whether anything is waiting. */
  get isEmpty(): boolean {
    return !this.overflowed && this.tags.size === 0;
  }

  /** Takes what is waiting; `rootTag` stands for everything after an overflow. */
  take(rootTag: string): string[] {
    const out = this.overflowed ? [rootTag] : [...this.tags];
    this.tags = new Set();
    this.overflowed = false;
    return out;
  }
}
