import type { CallOptions } from '../engine/options';
import type { WriteOp } from './write_queue';

/** Cache settings of one row's entry. */
export interface EntryOptions {
  /** TTLs and flags, no tags; the same object for every row of an entity. */
  readonly options: CallOptions;
  readonly tags: readonly string[];
  /**
   * Tags a write to this row moves (the row's own tag), bumped by the save itself: entries that
   * read the row (a cached method, a by-id load racing the save) must not outlive it, and the
   * flush does not bump them again.
   */
  readonly bump: readonly string[];
}

/** One coalesced write handed to the target: the newest state of a row. */
export interface RowWrite {
  readonly entity: string;
  /** The row's cache key. */
  readonly key: string;
  readonly op: WriteOp;
  /** The decoded state (save) or primary key (remove). */
  readonly value: unknown;
  readonly version: number;
}

/** How a failed persist is handled. */
export type FailureKind =
  /** The data itself is refused (a constraint, a bad value): retrying the same write cannot help. */
  | 'bad-data'
  /** Anything else (the database is down, a deadlock, a timeout): retry with backoff. */
  | 'retry';

/**
 * Where write-behind writes end up: the TypeORM plugin's target writes them with upserts and
 * deletes. It also tells the engine how the rows are cached, so that the flusher can refresh
 * an entry after its write commits.
 */
export interface WriteTarget {
  /** Persists `writes` (at most one per row) in one transaction: all or nothing. */
  persist(writes: readonly RowWrite[]): Promise<void>;
  /** Whether `error`, thrown by `persist`, is the data's fault. */
  classify(error: unknown): FailureKind;
  /**
   * Cache settings of a row's entry, as the read path stores it: options shared by the entity's
   * rows (the cache resolves each options object once) and the row's own tags.
   */
  entryOptions(entity: string, key: string, op: WriteOp): EntryOptions;
}
