import { beforeCacheClose, type Cache } from '../cache';
import { CacheTimeoutError, CacheWriteError } from '../errors';
import { parseDuration, type Duration } from '../engine/duration';
import { CacheSync } from './cache_sync';
import { FlushLoop } from './flush_loop';
import { KeyedSerial } from './keyed_serial';
import { MemoryWriteQueue } from './memory_write_queue';
import { decodeRow, encodeRow } from './row_codec';
import {
  resolveWriteBehindOptions,
  type ResolvedWriteBehindOptions,
  type WriteBehindOptions,
} from './write_behind_options';
import type { WriteBehindEventMap, WriteBehindEventName } from './write_behind_events';
import { WriteBehindEvents } from './write_behind_events';
import { WriteBehindCounters, type WriteBehindStats } from './write_behind_stats';
import type { DeadLetter, WriteOp, WriteQueue } from './write_queue';
import type { WriteTarget } from './write_target';

/** One write handed to `WriteBehind.write` by an integration (the TypeORM `CachedRepository`). */
export interface WriteRequest {
  readonly entity: string;
  /** The row's cache key. */
  readonly key: string;
  readonly op: WriteOp;
  /**
   * The state to save, or the primary key to remove. A function is called in the row's turn
   * (after this process's earlier writes of the row), so it may read the row's current state.
   */
  readonly value: unknown | (() => unknown | Promise<unknown>);
}

/** The newest pending (not yet flushed) write of a row. */
export interface PendingState {
  readonly op: WriteOp;
  readonly version: number;
  /** The state (save) or primary key (remove). */
  readonly value: unknown;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Write-behind: a write goes into the cache and a queue at once, and reaches the database later,
 * in batches, from a background flusher.
 *
 * A write resolves once the queue holds it (with a `RedisStreamQueue`, once Redis does: a crash
 * of this process after that cannot lose it, another instance's flusher takes it over). Writes
 * to one row are coalesced: the newest version wins, by the queue's version counter, not by the
 * order in which flushers see them. Failures are retried with exponential backoff; a write that
 * keeps failing, or whose data the database refuses, moves to the dead-letter log and its cache
 * entry is dropped, so that reads fall back to what the database holds.
 *
 * Start it with `startWriteBehind` (`cachekit/typeorm`) and stop it with `close()`, which
 * flushes first. With the default in-memory queue, writes not yet flushed are lost if the
 * process dies without `close()`.
 */
export class WriteBehind {
  /** The queue writes wait in. */
  readonly queue: WriteQueue;
  private readonly options: ResolvedWriteBehindOptions;
  private readonly serial = new KeyedSerial();
  private readonly counters = new WriteBehindCounters();
  private readonly events = new WriteBehindEvents();
  private readonly loop: FlushLoop;
  private closing: Promise<void> | undefined;
  private stopped = false;
  private readonly signalHandlers = new Map<NodeJS.Signals, () => void>();
  private readonly sync: CacheSync;
  private readonly unhookCacheClose: () => void;

  constructor(
    /** The cache the written rows are shown in. */
    readonly cache: Cache,
    /** Where the flusher persists writes. */
    readonly target: WriteTarget,
    options: WriteBehindOptions = {},
  ) {
    this.options = resolveWriteBehindOptions(options);
    this.queue = options.queue ?? new MemoryWriteQueue();
    this.sync = new CacheSync(cache, target, this.queue, this.serial);
    this.loop = new FlushLoop(this.queue, target, this.sync, this.options, this.counters, this.events);
    if (this.options.flusher) this.loop.start();
    // Closing the cache first would strand pending writes (their flush needs the cache open).
    this.unhookCacheClose = beforeCacheClose(cache, () => this.close());
    if (this.options.shutdownHook) this.installShutdownHook();
  }

  /**
   * Queues one write and shows it in the cache; resolves once the queue holds it. The version
   * is drawn (by the append) before the cache write, so that the cached state and the queued
   * one always agree on which write is newest. Used by integrations; applications call
   * `cachedRepository.save` / `remove`.
   */
  write(req: WriteRequest): Promise<void> {
    if (this.closing !== undefined)
      return Promise.reject(new CacheWriteError(req.entity, 'write-behind is closed'));
    return this.serial.run(req.key, async () => {
      const value = typeof req.value === 'function' ? await (req.value as () => unknown)() : req.value;
      const row = { entity: req.entity, key: req.key, op: req.op, value };
      const queue = this.queue;
      if (queue.appendShown !== undefined) {
        const carried = this.sync.carry(row, (store) => queue.carries?.(store) ?? false);
        if (carried !== undefined) {
          // A saved state was just encoded for its entry, in the queue's format: reused.
          const json = req.op === 'save' ? carried.json : undefined;
          const payload = json !== undefined ? json.toString('utf8') : encodeRow(value);
          const write = { entity: req.entity, key: req.key, op: req.op, payload };
          const { seq, announced } = await queue.appendShown(write, carried);
          this.counters.enqueued++;
          carried.done(seq, announced);
          return;
        }
      }
      const write = { entity: req.entity, key: req.key, op: req.op, payload: encodeRow(value) };
      const version = await queue.append(write);
      this.counters.enqueued++;
      // Durable from here: a failed cache step only costs read-your-writes until the flush,
      // which rewrites the entry (CacheSync.committed).
      try {
        await this.sync.saved(row, version);
      } catch (err) {
        this.events.emit('error', { error: err, operation: 'writeBehind.cache' });
      }
    });
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** The newest write of a row that is not flushed yet, or `undefined`. */
  async pendingState(key: string): Promise<PendingState | undefined> {
    return (await this.pendingStates([key]))[0];
  }

  /**
   * `pendingStates`, or `undefined` when the queue cannot be read (reported on `error`): a
   * reader then goes to the database and must not cache what it got, which may be older than
   * a write it could not see.
   */
  async tryPendingStates(keys: readonly string[]): Promise<(PendingState | undefined)[] | undefined> {
    try {
      return await this.pendingStates(keys);
    } catch (err) {
      this.events.emit('error', { error: err, operation: 'writeBehind.pending' });
      return undefined;
    }
  }

  /** `pendingState` of several rows, in one queue read. */
  async pendingStates(keys: readonly string[]): Promise<(PendingState | undefined)[]> {
    if (keys.length === 0) return [];
    const records = await this.queue.latest(keys);
    return records.map((p) =>
      p === undefined || p.flushed
        ? undefined
        : { op: p.op, version: p.version, value: decodeRow(p.payload) },
    );
  }

  /**
   * Resolves when every write appended before this call (by any process sharing the queue) has
   * been persisted, superseded or dead-lettered. Rejects with a `CacheTimeoutError` after
   * `timeout` (default: wait as long as it takes). Without a flusher of its own, it waits for
   * the other processes' flushers.
   */
  async flush(timeout?: Duration): Promise<void> {
    const limit = timeout === undefined ? Infinity : parseDuration('timeout', timeout);
    // After close() nothing here flushes any more; waiting would never end.
    if (this.stopped)
      throw new CacheWriteError(undefined, 'write-behind is closed: nothing flushes any more');
    await this.serial.idle();
    const head = await this.queue.head();
    if (head === undefined) return;
    const deadline = Date.now() + limit;
    this.loop.urgent++;
    this.loop.nudge();
    try {
      while (!(await this.queue.settled(head))) {
        if (Date.now() >= deadline) throw new CacheTimeoutError('writeBehind.flush', limit);
        await this.loop.progress(Math.min(25, Math.max(1, deadline - Date.now())));
      }
    } finally {
      this.loop.urgent--;
    }
    await this.loop.refreshDepth().catch(() => {});
  }

  /**
   * Writes appended and not yet acknowledged (persisted, superseded or dead-lettered), queue-wide.
   * A `RedisStreamQueue` acknowledges the writes of one append call together, once all are done.
   */
  async pending(): Promise<number> {
    return (await this.queue.depth()).pending;
  }

  /** The newest dead letters (writes given up on), oldest first. */
  deadLetters(max?: number): Promise<DeadLetter[]> {
    return this.queue.deadLetters(max);
  }

  /** Counters, queue depth and latencies. */
  stats(): WriteBehindStats {
    return this.counters.snapshot();
  }

  /** Subscribes to an event. */
  on<E extends WriteBehindEventName>(event: E, listener: (payload: WriteBehindEventMap[E]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  /** Unsubscribes. */
  off<E extends WriteBehindEventName>(event: E, listener: (payload: WriteBehindEventMap[E]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /**
   * Refuses new writes, flushes everything queued (up to `closeTimeout`), stops the flusher and
   * closes the queue. With the memory queue, writes still pending after the timeout are lost and
   * reported on `error`; with a durable queue they stay in it for the next instance. Without a
   * flusher of its own (`flusher: false`) it does not wait: the queue holds the writes for the
   * flushers that persist them.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.unhookCacheClose();
    for (const [sig, h] of this.signalHandlers) process.off(sig, h);
    this.signalHandlers.clear();
    try {
      if (this.options.flusher) await this.flush(this.options.closeTimeoutMs);
      else await this.serial.idle();
    } catch (err) {
      this.events.emit('error', { error: err, operation: 'writeBehind.close' });
    }
    await this.loop.stop();
    this.stopped = true;
    this.sync.dispose();
    if (!this.queue.durable) {
      const left = (await this.queue.depth()).pending;
      if (left > 0) {
        this.events.emit('error', {
          error: new CacheWriteError(
            undefined,
            `${left} pending write(s) lost: the memory queue closed unflushed`,
          ),
          operation: 'writeBehind.close',
        });
      }
    }
    await this.queue.close();
  }

  /** Flush on SIGTERM/SIGINT, then let the signal do what it would have done. */
  private installShutdownHook(): void {
    for (const sig of SIGNALS) {
      const handler = () => {
        void this.close().finally(() => {
          // Our listener is gone now: with no other, re-raising ends the process as usual.
          if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
        });
      };
      this.signalHandlers.set(sig, handler);
      process.once(sig, handler);
    }
  }
}

/** Options of `WriteBehind`, re-exported for integrations. */
export type { WriteBehindOptions, WriteTarget };
