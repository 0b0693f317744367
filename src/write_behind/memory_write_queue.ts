import type {
  ClaimResult,
  Completion,
  DeadLetter,
  PendingWrite,
  QueueDepth,
  QueuedWrite,
  QueueEntry,
  RowVersion,
  WriteQueue,
} from './write_queue';

/** Options of `MemoryWriteQueue`. */
export interface MemoryWriteQueueOptions {
  /** Dead letters kept (the oldest are dropped). Default 1,000. */
  maxDeadLetters?: number;
}

/**
 * The in-process queue, used when no durable queue is given. Writes live in this process only:
 * a crash loses the ones not yet flushed. `close()` of the write-behind flushes them, and so do
 * SIGTERM/SIGINT when its shutdown hook is on. There is a single consumer, so claims never
 * meet a lease and nothing is ever reclaimed.
 */
export class MemoryWriteQueue implements WriteQueue {
  readonly durable = false;
  private seq = 0;
  /** Appended, not yet read. */
  private fresh: QueueEntry[] = [];
  private freshStart = 0;
  /** Read, not yet acknowledged. */
  private readonly delivered = new Map<string, QueueEntry>();
  private readonly records = new Map<string, PendingWrite>();
  /** Rows whose newest record the cache was confirmed to show. */
  private readonly shown = new Set<string>();
  private readonly dead: DeadLetter[] = [];
  private readonly maxDead: number;
  private waiter: (() => void) | undefined;

  constructor(options: MemoryWriteQueueOptions = {}) {
    this.maxDead = options.maxDeadLetters ?? 1000;
  }

  async append(write: QueuedWrite): Promise<number> {
    const version = ++this.seq;
    this.records.set(write.key, { version, op: write.op, payload: write.payload });
    this.shown.delete(write.key);
    this.fresh.push({
      id: String(version),
      entity: write.entity,
      key: write.key,
      version,
      appendedAt: Date.now(),
    });
    this.wake();
    return version;
  }

  async read(max: number, waitMs: number): Promise<QueueEntry[]> {
    if (this.freshCount() === 0 && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          if (this.waiter === done) this.waiter = undefined;
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        // One reader at a time: a second would take over the wake-up.
        this.waiter?.();
        this.waiter = done;
      });
    }
    const n = Math.min(max, this.freshCount());
    const out = this.fresh.slice(this.freshStart, this.freshStart + n);
    this.freshStart += n;
    // Compact now and then rather than shifting on every read.
    if (this.freshStart > 1024 && this.freshStart * 2 > this.fresh.length) {
      this.fresh = this.fresh.slice(this.freshStart);
      this.freshStart = 0;
    }
    for (const e of out) this.delivered.set(e.id, e);
    return out;
  }

  async reclaim(): Promise<QueueEntry[]> {
    return [];
  }

  async keepAlive(): Promise<void> {}

  async claim(keys: readonly string[]): Promise<ClaimResult[]> {
    return keys.map((k) => this.records.get(k) ?? 'stale');
  }

  async release(): Promise<void> {}

  async complete(entryIds: readonly string[], written: readonly RowVersion[]): Promise<Completion[]> {
    for (const id of entryIds) this.delivered.delete(id);
    return written.map((r) => {
      const shown = this.shown.has(r.key);
      if (!this.retire(r.key, r.version)) return 'newer';
      return shown ? 'shown' : 'retired';
    });
  }

  async confirm(rows: readonly RowVersion[]): Promise<(PendingWrite | undefined)[]> {
    return rows.map((r) => {
      const rec = this.records.get(r.key);
      if (rec?.version === r.version) {
        this.shown.add(r.key);
        return undefined;
      }
      return rec !== undefined && rec.version > r.version ? rec : undefined;
    });
  }

  async deadLetter(letter: Omit<DeadLetter, 'id' | 'at'>): Promise<boolean> {
    this.dead.push({ ...letter, id: String(this.dead.length + 1), at: Date.now() });
    if (this.dead.length > this.maxDead) this.dead.splice(0, this.dead.length - this.maxDead);
    for (const id of letter.entries) this.delivered.delete(id);
    return this.retire(letter.key, letter.version);
  }

  // One process, every cache write in the row serial: no slow writer to warn, so a flushed
  // record is simply dropped.
  async latest(keys: readonly string[]): Promise<(PendingWrite | undefined)[]> {
    return keys.map((k) => this.records.get(k));
  }

  async head(): Promise<string | undefined> {
    return this.seq === 0 ? undefined : String(this.seq);
  }

  async settled(position: string): Promise<boolean> {
    const p = Number(position);
    const first = this.fresh[this.freshStart];
    if (first !== undefined && first.version <= p) return false;
    for (const e of this.delivered.values()) if (e.version <= p) return false;
    return true;
  }

  async depth(): Promise<QueueDepth> {
    let oldest: number | undefined = this.fresh[this.freshStart]?.appendedAt;
    for (const e of this.delivered.values()) {
      if (oldest === undefined || e.appendedAt < oldest) oldest = e.appendedAt;
    }
    return { pending: this.freshCount() + this.delivered.size, oldestAppendedAt: oldest };
  }

  async deadLetters(max = 100): Promise<DeadLetter[]> {
    return this.dead.slice(-max);
  }

  wake(): void {
    this.waiter?.();
  }

  async close(): Promise<void> {
    this.wake();
  }

  private freshCount(): number {
    return this.fresh.length - this.freshStart;
  }

  private retire(key: string, version: number): boolean {
    if (this.records.get(key)?.version !== version) return false;
    this.records.delete(key);
    this.shown.delete(key);
    return true;
  }
}
