import { backoffDelay } from './backoff';
import type { CacheSync, RowState } from './cache_sync';
import { decodeRow } from './row_codec';
import type { ResolvedWriteBehindOptions } from './write_behind_options';
import type { WriteBehindCounters } from './write_behind_stats';
import type { WriteBehindEvents } from './write_behind_events';
import type { PendingWrite, QueueEntry, WriteQueue } from './write_queue';
import type { RowWrite, WriteTarget } from './write_target';

/** A row with entries in hand: every version read so far, acknowledged together. */
interface HeldRow {
  readonly key: string;
  readonly entity: string;
  readonly entries: QueueEntry[];
  /** Failed persist attempts so far. */
  attempts: number;
  /** Not before this time (a retry's backoff, or another consumer's lease). */
  dueAt: number;
  /** When this process first held it: the batch deadline counts from here. */
  readonly heldAt: number;
}

/** A row to persist with its newest write, as claimed and decoded. */
interface Item {
  readonly row: HeldRow;
  readonly write: RowWrite;
  /** The write's payload as queued (kept for a dead letter). */
  readonly payload: string;
}

/** Longest a read blocks while rows are held, so that a `flush()` is noticed quickly. */
const HELD_SLICE_MS = 25;
/** Longest a read blocks with nothing held. */
const IDLE_WAIT_MS = 250;
const RECLAIM_EVERY_MS = 1000;
const KEEPALIVE_EVERY_MS = 1000;
const DEPTH_EVERY_MS = 250;
/** Least time between two reads while a batch fills (see `step`). */
const READ_GAP_MS = 5;
/** Retry delay for a row another consumer is writing. */
const BUSY_DELAY_MS = 20;
/**
 * Most queue entries asked for in one read, whatever the batch size. The held writes are capped
 * (four batches' worth) before a read, so one read is what can overshoot the cap, and a
 * `RedisStreamQueue` entry may name up to 256 writes: this keeps that overshoot where it was
 * with batches of 500. Under a steady flow a read every few ms takes far fewer.
 */
const READ_ENTRIES = 500;

/**
 * The flusher: takes writes from the queue, coalesces them per row, and persists them in
 * batches, one transaction each. It runs in the background from `start()` to `stop()`.
 *
 * One batch at a time: rows of a batch are distinct, so no two transactions of this process
 * race on a row; across processes the queue's row leases do that job.
 */
export class FlushLoop {
  private readonly rows = new Map<string, HeldRow>();
  private heldEntries = 0;
  /**
   * Held writes per entry ID. A queue may hand over several writes under one ID (a
   * RedisStreamQueue entry names every write of an append call): the ID is acknowledged once
   * none of its writes is held any more, whichever batches took them.
   */
  private readonly holds = new Map<string, number>();
  private running: Promise<void> | undefined;
  private stopping = false;
  /** `flush()` calls waiting: flush what is held without waiting for the batch to fill. */
  urgent = 0;
  /** After a failure that is not the data's fault, no batch is tried before this time. */
  private pausedUntil = 0;
  private lastReclaim = 0;
  private lastKeepAlive = 0;
  private lastDepth = 0;
  private progressWaiters: (() => void)[] = [];
  private compacting = false;
  /** Whether some held row may have a due time of its own (see `nextDue`). */
  private deferred = false;
  /** When the last read returned. */
  private lastRead = 0;
  private lastCompact = 0;

  constructor(
    private readonly queue: WriteQueue,
    private readonly target: WriteTarget,
    private readonly sync: CacheSync,
    private readonly options: ResolvedWriteBehindOptions,
    private readonly counters: WriteBehindCounters,
    private readonly events: WriteBehindEvents,
  ) {}

  /** Starts the background loop. */
  start(): void {
    this.running ??= this.loop();
  }

  /** Stops after the current step; rows still held are tried once more. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.wake?.();
    await this.running;
  }

  /** Rows held by this process's flusher (read, not yet persisted or given up). */
  get held(): number {
    return this.rows.size;
  }

  /** Resolves after the next batch (or after `ms`, whichever comes first). */
  progress(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const waiters = this.progressWaiters;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      waiters.push(done);
    });
  }

  /** Wakes a read that is waiting, so that a `flush()` does not wait for the batch deadline. */
  nudge(): void {
    this.queue.wake?.();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.step();
        failures = 0;
      } catch (err) {
        // The queue failed (Redis unreachable): report, wait, go on. Rows stay held.
        failures++;
        this.counters.queueErrors++;
        this.events.emit('error', { error: err, operation: 'writeBehind.queue' });
        await sleep(backoffDelay(failures, 50, 2000));
      }
    }
    // Closing: one last try for what is held (close() has flushed already when it could).
    if (this.rows.size > 0) {
      try {
        const now = Date.now();
        if (now >= this.pausedUntil) await this.flushRows(this.eligible(Number.MAX_SAFE_INTEGER));
      } catch (err) {
        this.events.emit('error', { error: err, operation: 'writeBehind.queue' });
      }
    }
  }

  private async step(): Promise<void> {
    const now = Date.now();
    await this.housekeeping(now);
    // Most steps only take in a few entries: the held rows are walked only when a batch may be due.
    const first = this.oldestHeld();
    const mayFlush =
      first !== undefined &&
      now >= this.pausedUntil &&
      this.batchDue(this.rows.size, this.heldEntries, first.heldAt, now);
    const ready = mayFlush ? this.eligible(now) : [];
    const readyEntries = ready.reduce((n, r) => n + r.entries.length, 0);
    const oldest = ready.reduce((t, r) => Math.min(t, r.heldAt), Infinity);
    if (ready.length > 0 && this.batchDue(ready.length, readyEntries, oldest, now)) {
      await this.flushRows(ready.slice(0, this.options.batchSize));
      return;
    }
    // Wait for more writes, or for the batch deadline, or for a retry to come due.
    let wait = this.rows.size > 0 ? HELD_SLICE_MS : IDLE_WAIT_MS;
    // Rows are held in the order they came: unless the walk above was made, the first one's
    // deadline is the earliest.
    const from = mayFlush ? (ready.length > 0 ? oldest : undefined) : first?.heldAt;
    if (from !== undefined && now >= this.pausedUntil)
      wait = Math.min(wait, Math.max(1, from + this.options.maxDelayMs - now));
    const next = this.nextDue(now);
    if (next !== undefined) wait = Math.min(wait, next - now);
    // Memory stays bounded while the database is down: stop taking writes beyond a few batches.
    if (this.heldEntries >= this.options.batchSize * 4) {
      await sleep(Math.max(1, wait));
      return;
    }
    // A read returns as soon as one entry is there. While a batch fills, reading every few
    // writes cost a request (and its reply's fixed share) each time: let some gather first.
    if (this.rows.size > 0 && this.urgent === 0) {
      const gap = this.lastRead + READ_GAP_MS - Date.now();
      if (gap > 0) {
        await sleep(Math.min(gap, wait));
        return;
      }
    }
    const got = await this.queue.read(Math.min(this.options.batchSize, READ_ENTRIES), Math.max(1, wait));
    this.lastRead = Date.now();
    this.hold(got, this.lastRead);
  }

  /**
   * Whether `rows` rows holding `entries` entries, the oldest held since `oldestAt`, make a
   * batch now: enough rows, a `flush()` waiting, the oldest at its deadline, or too many entries.
   */
  private batchDue(rows: number, entries: number, oldestAt: number, now: number): boolean {
    return (
      rows >= this.options.batchSize ||
      this.urgent > 0 ||
      oldestAt + this.options.maxDelayMs <= now ||
      entries >= this.options.batchSize * 4
    );
  }

  /** The row held longest (rows are kept in the order they were first held). */
  private oldestHeld(): HeldRow | undefined {
    for (const r of this.rows.values()) return r;
    return undefined;
  }

  /** Rows that may be written now, oldest first. */
  private eligible(now: number): HeldRow[] {
    const out: HeldRow[] = [];
    for (const r of this.rows.values()) if (r.dueAt <= now) out.push(r);
    return out;
  }

  private nextDue(now: number): number | undefined {
    if (this.rows.size === 0) return undefined;
    const from = Math.max(now, this.pausedUntil);
    // Only rows another consumer was writing get a due time of their own: without them, the
    // walk would find the pause's end for every row.
    if (!this.deferred) return from > now ? from : undefined;
    let next: number | undefined;
    let any = false;
    for (const r of this.rows.values()) {
      if (r.dueAt > now) any = true;
      const due = Math.max(r.dueAt, from);
      if (due > now && (next === undefined || due < next)) next = due;
    }
    this.deferred = any;
    return next;
  }

  private hold(entries: readonly QueueEntry[], now: number): void {
    for (const e of entries) {
      const r = this.rows.get(e.key);
      if (r === undefined) {
        this.rows.set(e.key, {
          key: e.key,
          entity: e.entity,
          entries: [e],
          attempts: 0,
          dueAt: 0,
          heldAt: now,
        });
      } else {
        // The same entry may come back (reclaimed after we were thought dead): keep one copy.
        if (r.entries.some((x) => x.id === e.id && x.version === e.version)) continue;
        r.entries.push(e);
      }
      this.holds.set(e.id, (this.holds.get(e.id) ?? 0) + 1);
      this.heldEntries++;
    }
  }

  private drop(r: HeldRow): void {
    if (this.rows.get(r.key) === r) {
      this.rows.delete(r.key);
      this.heldEntries -= r.entries.length;
      for (const e of r.entries) {
        const n = (this.holds.get(e.id) ?? 1) - 1;
        if (n > 0) this.holds.set(e.id, n);
        else this.holds.delete(e.id);
      }
    }
  }

  /**
   * The entry IDs that `rows` hold every held write of: those to acknowledge once `rows` are
   * done. An ID with writes in other held rows waits for them.
   */
  private ackable(rows: readonly HeldRow[]): string[] {
    const inRows = new Map<string, number>();
    for (const r of rows) for (const e of r.entries) inRows.set(e.id, (inRows.get(e.id) ?? 0) + 1);
    const out: string[] = [];
    for (const [id, n] of inRows) if (this.holds.get(id) === n) out.push(id);
    return out;
  }

  private async housekeeping(now: number): Promise<void> {
    if (now - this.lastReclaim >= RECLAIM_EVERY_MS) {
      this.lastReclaim = now;
      this.hold(await this.queue.reclaim(this.options.batchSize), now);
    }
    if (now - this.lastKeepAlive >= KEEPALIVE_EVERY_MS) {
      this.lastKeepAlive = now;
      const ids = new Set<string>();
      for (const r of this.rows.values())
        if (now - r.heldAt >= KEEPALIVE_EVERY_MS) for (const e of r.entries) ids.add(e.id);
      if (ids.size > 0) await this.queue.keepAlive([...ids]);
    }
    if (now - this.lastDepth >= DEPTH_EVERY_MS) {
      this.lastDepth = now;
      await this.refreshDepth();
    }
  }

  /** Reads the queue depth into the stats and the `depth` event. */
  async refreshDepth(): Promise<void> {
    const d = await this.queue.depth();
    const now = Date.now();
    this.counters.pending = d.pending;
    this.counters.oldestAppendedAt = d.oldestAppendedAt;
    this.counters.depthAt = now;
    this.events.emit('depth', {
      pending: d.pending,
      oldestPendingMs: d.oldestAppendedAt === undefined ? 0 : Math.max(0, now - d.oldestAppendedAt),
    });
  }

  /** Claims the rows, acknowledges superseded ones, persists the rest. */
  private async flushRows(rows: HeldRow[]): Promise<void> {
    if (rows.length === 0) return;
    const claims = await this.queue.claim(rows.map((r) => r.key));
    const stale: HeldRow[] = [];
    const write: { row: HeldRow; newest: PendingWrite }[] = [];
    const now = Date.now();
    rows.forEach((r, i) => {
      const c = claims[i];
      if (c === 'stale') stale.push(r);
      else if (c === 'busy') {
        r.dueAt = now + BUSY_DELAY_MS + Math.random() * BUSY_DELAY_MS;
        this.deferred = true;
      } else write.push({ row: r, newest: c });
    });
    if (stale.length > 0) {
      // Nothing of these rows is pending: a flush (maybe another consumer's) carried their writes.
      await this.queue.complete(this.ackable(stale), []);
      for (const r of stale) {
        this.counters.coalesced += r.entries.length;
        this.drop(r);
      }
    }
    const items: Item[] = [];
    for (const { row, newest } of write) {
      // The row's newest write, whichever of its entries this consumer read.
      const base = { entity: row.entity, key: row.key, op: newest.op, version: newest.version };
      try {
        items.push({ row, write: { ...base, value: decodeRow(newest.payload) }, payload: newest.payload });
      } catch (err) {
        // No retry could write what cannot be read: straight to the dead letters.
        await this.deadLetter(row, { ...base, value: undefined }, newest.payload, err);
      }
    }
    if (items.length > 0) await this.persist(items);
    this.compactSoon();
    const waiters = this.progressWaiters;
    this.progressWaiters = [];
    for (const w of waiters) w();
  }

  /** Lets the queue drop acknowledged entries, at most once a second, off the batch path. */
  private compactSoon(): void {
    const q = this.queue as WriteQueue & { compact?: () => Promise<void> };
    if (q.compact === undefined || this.compacting || Date.now() - this.lastCompact < 1000) return;
    this.compacting = true;
    this.lastCompact = Date.now();
    q.compact().then(
      () => (this.compacting = false),
      (err: unknown) => {
        this.compacting = false;
        this.events.emit('error', { error: err, operation: 'writeBehind.compact' });
      },
    );
  }

  /**
   * One transaction for `rows`. Bad data splits the batch in halves until the offending row
   * is alone, and that row is dead-lettered: the rest of the batch is persisted. Any other
   * failure pauses the flusher with exponential backoff; a row that used up its attempts is
   * dead-lettered.
   */
  private async persist(items: Item[]): Promise<void> {
    const rows = items.map((i) => i.row);
    const writes = items.map((i) => i.write);
    const started = performance.now();
    try {
      await this.target.persist(writes);
    } catch (err) {
      if (this.target.classify(err) === 'bad-data') {
        if (rows.length === 1) {
          rows[0].attempts++;
          await this.deadLetter(rows[0], writes[0], items[0].payload, err);
          return;
        }
        const mid = Math.ceil(items.length / 2);
        await this.persist(items.slice(0, mid));
        await this.persist(items.slice(mid));
        return;
      }
      await this.queue.release(rows.map((r) => r.key));
      const retry: HeldRow[] = [];
      let attempt = 0;
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        r.attempts++;
        if (r.attempts >= this.options.maxAttempts)
          await this.deadLetter(r, writes[i], items[i].payload, err);
        else {
          retry.push(r);
          attempt = Math.max(attempt, r.attempts);
        }
      }
      if (retry.length > 0) {
        const delayMs = backoffDelay(attempt, this.options.retryDelayMs, this.options.maxRetryDelayMs);
        this.pausedUntil = Date.now() + delayMs;
        this.counters.retries += retry.length;
        this.events.emit('retry', { rows: retry.length, attempt, delayMs, error: err });
      }
      return;
    }
    const ms = performance.now() - started;
    const committedAt = Date.now();
    // A RowWrite names its row and version: it is the RowVersion the queue needs.
    const retired = await this.queue.complete(this.ackable(rows), writes);
    let entries = 0;
    for (const r of rows) {
      entries += r.entries.length;
      this.counters.coalesced += r.entries.length - 1;
      // Every write of the row is in the database now, in effect: the committed state supersedes it.
      for (const e of r.entries) this.counters.lag.add(Math.max(0, committedAt - e.appendedAt));
      this.drop(r);
    }
    this.counters.flushed += rows.length;
    this.counters.recordBatch(rows.length, ms);
    this.events.emit('flush', { rows: rows.length, entries, durationMs: ms });
    // Rows whose saver confirmed the cache shows them need nothing more; others get their entry rewritten.
    const current: { row: RowState; version: number }[] = [];
    rows.forEach((r, i) => {
      if (retired[i] === 'retired') current.push({ row: writes[i], version: writes[i].version });
    });
    await this.sync.committed(current).catch((err: unknown) => {
      this.events.emit('error', { error: err, operation: 'writeBehind.refresh' });
    });
  }

  private async deadLetter(r: HeldRow, w: RowWrite, payload: string, err: unknown): Promise<void> {
    const wasNewest = await this.queue.deadLetter({
      entity: w.entity,
      key: w.key,
      op: w.op,
      version: w.version,
      payload,
      error: messageOf(err),
      attempts: r.attempts,
      entries: this.ackable([r]),
    });
    this.drop(r);
    this.counters.deadLetters++;
    this.events.emit('deadLetter', {
      entity: w.entity,
      key: w.key,
      op: w.op,
      version: w.version,
      value: w.value,
      error: err,
      attempts: r.attempts,
    });
    // A newer write of the row is pending: its state is what the cache should keep showing.
    if (wasNewest) {
      await this.sync.abandoned(w, w.version).catch((e: unknown) => {
        this.events.emit('error', { error: e, operation: 'writeBehind.invalidate' });
      });
    }
  }
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    return 'unknown error';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
