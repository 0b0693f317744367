/**
 * The queue a write-behind cache appends to and its flusher reads from. Two implementations:
 * `MemoryWriteQueue` (in process, lost on a crash) and `RedisStreamQueue` from `cachekit/redis`
 * (Redis Streams with a consumer group: durable, shared by every instance).
 *
 * Besides the log of writes, a queue keeps one record per row with pending writes: the newest
 * version and its payload. Versions come from one counter per queue, so they are unique and
 * increase with every append, for every row. The log says which rows have writes; what the
 * flusher writes is the row's record, the newest state, taken with a lease (`claim`). So the
 * last append wins whatever order the flushers see the writes in, and a write that a newer one
 * already carried to the database is acknowledged without touching it.
 */

import type { CarriedWrite } from '../engine/carried_write';
import type { Store } from '../stores/store';

/** What a queued write does to its row. */
export type WriteOp = 'save' | 'remove';

/** One write, as the write path hands it to the queue. */
export interface QueuedWrite {
  /** The entity's name; the flusher's target knows how to persist it. */
  readonly entity: string;
  /** The row's identity, unique across entities: its cache key (`entity:<Entity>:<id>`). */
  readonly key: string;
  readonly op: WriteOp;
  /** The serialized state (save) or primary key (remove). */
  readonly payload: string;
}

/**
 * A write read back from the queue: which row it changed, and when. Its state is not carried:
 * the flusher writes the row's newest state, which `claim` hands over.
 */
export interface QueueEntry {
  /**
   * Its position in the queue, used to acknowledge it. Several writes may share one (a Redis
   * stream entry holds every write of an append call): it is acknowledged once, when all of
   * them are done.
   */
  readonly id: string;
  /** The entity's name. */
  readonly entity: string;
  /** The row's identity (see `QueuedWrite.key`). */
  readonly key: string;
  /** The row's version this write created. */
  readonly version: number;
  /** When it was appended, ms since the epoch, by the queue's clock. */
  readonly appendedAt: number;
}

/** The newest pending write of a row. */
export interface PendingWrite {
  readonly flushed?: false;
  readonly version: number;
  readonly op: WriteOp;
  readonly payload: string;
}

/**
 * A row's record: its newest pending write, or, for a short while after that write was
 * flushed, just its version. The latter lets a process whose cache write was slow learn that
 * a newer state already reached the database, so that it drops what it wrote.
 */
export type RowRecord = PendingWrite | { readonly flushed: true; readonly version: number };

/** A row the flusher wants to write: its key and the version it holds. */
export interface RowVersion {
  readonly key: string;
  readonly version: number;
}

/**
 * What the flusher may do with a row now: write its newest pending write (this consumer now
 * holds the row's lease), `stale` (nothing is pending: a flush already carried the row's
 * writes; acknowledge without writing), or `busy` (another consumer is writing the row: try
 * again shortly).
 */
export type ClaimResult = PendingWrite | 'stale' | 'busy';

/** What became of a written row's record after its commit (see `WriteQueue.complete`). */
export type Completion = 'shown' | 'retired' | 'newer';

/** A write that could not be persisted, as kept in the dead-letter log. */
export interface DeadLetter {
  /** Its position in the dead-letter log. */
  readonly id: string;
  readonly entity: string;
  readonly key: string;
  readonly op: WriteOp;
  readonly version: number;
  /** The original payload, as appended. */
  readonly payload: string;
  /** The last error's message. */
  readonly error: string;
  /** Persist attempts made. */
  readonly attempts: number;
  /**
   * Positions of the queue entries acknowledged with it: its row's (superseded versions
   * included), but for those that also name a write still pending.
   */
  readonly entries: readonly string[];
  /** When it was dead-lettered, ms since the epoch. */
  readonly at: number;
}

/** Queue depth: writes appended and not yet acknowledged. */
export interface QueueDepth {
  readonly pending: number;
  /** Append time of the oldest of them, ms since the epoch. */
  readonly oldestAppendedAt: number | undefined;
}

/** What `appendShown` resolves to for one write. */
export interface AppendedShown {
  /** The row's version this write created. */
  readonly version: number;
  /** The cache invalidation sequence its entry was stamped with. */
  readonly seq: number;
  /** Whether the append also published the write's L1-bus message (see `CarriedWrite.announcer`). */
  readonly announced: boolean;
}

/** The queue contract the write-behind engine relies on. */
export interface WriteQueue {
  /** Whether an appended write survives this process dying (Redis: yes; memory: no). */
  readonly durable: boolean;
  /**
   * Appends a write, makes it the row's newest, and resolves to its version once it is stored
   * (for Redis: on the primary). Resolving is what lets the write path acknowledge.
   */
  append(write: QueuedWrite): Promise<number>;
  /** Whether `appendShown` can store entries of `store` (it shares this queue's keyspace). */
  carries?(store: Store): boolean;
  /**
   * `append`, storing the write's cache entry in the same atomic step (the record is then
   * marked shown: no `confirm` is needed). Only for an entry whose store `carries` accepts.
   */
  appendShown?(write: QueuedWrite, entry: CarriedWrite): Promise<AppendedShown>;
  /** Up to `max` entries never delivered to any consumer, waiting up to `waitMs` for the first. */
  read(max: number, waitMs: number): Promise<QueueEntry[]>;
  /** Up to `max` entries another consumer took and left unacknowledged too long (it is presumed dead). */
  reclaim(max: number): Promise<QueueEntry[]>;
  /** Tells the queue this consumer is still working on `entries`, so nobody reclaims them. */
  keepAlive(entryIds: readonly string[]): Promise<void>;
  /** Takes a short lease on each row with a pending write and hands over its newest write. */
  claim(keys: readonly string[]): Promise<ClaimResult[]>;
  /** Gives back leases taken by `claim` (after a failed write). */
  release(keys: readonly string[]): Promise<void>;
  /**
   * After the database committed `written`: acknowledges `entryIds`, drops the leases, and
   * retires each row's record when the written version is still its newest (a durable queue
   * keeps the version as flushed for a while). Per written row: `shown` (retired, and its saver
   * confirmed the cache shows it), `retired` (retired; the cache may not show it), `newer` (a
   * newer write is pending).
   */
  complete(entryIds: readonly string[], written: readonly RowVersion[]): Promise<Completion[]>;
  /**
   * After the save path wrote a row's state to the cache: marks the record as shown when it
   * still names `version`, so that the flush need not rewrite the entry. Per row, the record
   * when it moved past that version (a newer write raced this one), `undefined` otherwise.
   */
  confirm(rows: readonly RowVersion[]): Promise<(RowRecord | undefined)[]>;
  /**
   * Moves a write that cannot be persisted to the dead-letter log and acknowledges its entries.
   * Resolves to whether it was the row's newest (its record is then retired).
   */
  deadLetter(letter: Omit<DeadLetter, 'id' | 'at'>): Promise<boolean>;
  /** The record of each row: its newest pending write, a recently flushed version, or `undefined`. */
  latest(keys: readonly string[]): Promise<(RowRecord | undefined)[]>;
  /** The position of the last append, `undefined` when nothing was ever appended. */
  head(): Promise<string | undefined>;
  /** Whether every entry up to `position` has been acknowledged (persisted, superseded or dead-lettered). */
  settled(position: string): Promise<boolean>;
  /** Writes appended and not yet acknowledged. */
  depth(): Promise<QueueDepth>;
  /** The newest dead letters, up to `max`, oldest first. */
  deadLetters(max?: number): Promise<DeadLetter[]>;
  /** Ends a `read` that is waiting, when the queue can (the memory queue can). */
  wake?(): void;
  /** Releases what the queue opened itself. */
  close(): Promise<void>;
}
