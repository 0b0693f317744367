import { type Duration, parseDuration } from '../engine/duration';
import { CacheConfigError } from '../errors';
import type { WriteQueue } from './write_queue';

/** Options of a write-behind cache. Every one has a default. */
export interface WriteBehindOptions {
  /**
   * Where writes wait for their flush. Default: an in-process `MemoryWriteQueue`, which loses
   * pending writes on a crash. Pass a `RedisStreamQueue` (`cachekit/redis`) for durability.
   */
  queue?: WriteQueue;
  /**
   * Most rows persisted in one transaction (a row's writes held together coalesce into one):
   * a batch goes out once this many rows are held, or at `maxDelay`. Default 2,000. Smaller
   * batches flush sooner under load but coalesce less: in bench/write_behind.ts (10,000 updates
   * over 1,000 rows, 16 writers), 500 let a batch go every ~700 updates, about 1.4 per row
   * written, and the saves were acknowledged about a third slower than with 2,000, where the
   * deadline closes each batch (lag p50 ~20 ms against ~60 ms).
   */
  batchSize?: number;
  /** Longest a write waits for its batch to fill before it is flushed anyway. Default `'100ms'`. */
  maxDelay?: Duration;
  /** Persist attempts before a write moves to the dead-letter log. Default 10. */
  maxAttempts?: number;
  /** First retry delay; it doubles with each attempt, with jitter. Default `'100ms'`. */
  retryDelay?: Duration;
  /** Longest retry delay. Default `'30s'`. */
  maxRetryDelay?: Duration;
  /** How long `close()` keeps flushing before it gives up. Default `'30s'`. */
  closeTimeout?: Duration;
  /**
   * Flush and close on SIGTERM and SIGINT (then let the signal end the process). Default false:
   * the application owns its signals. With the memory queue, turn it on or call `close()`.
   */
  shutdownHook?: boolean;
  /**
   * Whether this process runs a flusher. Default true. With a durable queue shared by several
   * processes, `false` makes this one a producer only: its saves are acknowledged once the queue
   * holds them, and the flushers of other processes (a worker started with the default) persist
   * them, so the request path never spends its CPU on database batches. `flush()` then waits for
   * those flushers, and `close()` leaves pending writes in the queue for them. Refused with the
   * memory queue, which no other process can read.
   */
  flusher?: boolean;
}

/** Options after validation; durations in ms. */
export interface ResolvedWriteBehindOptions {
  readonly batchSize: number;
  readonly maxDelayMs: number;
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
  readonly closeTimeoutMs: number;
  readonly shutdownHook: boolean;
  readonly flusher: boolean;
}

/** Validates write-behind options; a bad value throws a `CacheConfigError` naming it. */
export function resolveWriteBehindOptions(o: WriteBehindOptions = {}): ResolvedWriteBehindOptions {
  if (typeof o !== 'object' || o === null)
    throw new CacheConfigError('writeBehind', o, 'expected an options object');
  const int = (name: keyof WriteBehindOptions, v: unknown, def: number, max: number) => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
      throw new CacheConfigError(name, v, `expected a whole number from 1 to ${max}`);
    return v;
  };
  if (o.shutdownHook !== undefined && typeof o.shutdownHook !== 'boolean')
    throw new CacheConfigError('shutdownHook', o.shutdownHook, 'expected true or false');
  const q = o.queue as Partial<WriteQueue> | undefined;
  if (q !== undefined && (typeof q !== 'object' || typeof q.append !== 'function'))
    throw new CacheConfigError('queue', q, 'expected a WriteQueue (MemoryWriteQueue or RedisStreamQueue)');
  if (o.flusher !== undefined && typeof o.flusher !== 'boolean')
    throw new CacheConfigError('flusher', o.flusher, 'expected true or false');
  if (o.flusher === false && q?.durable !== true) {
    throw new CacheConfigError(
      'flusher',
      false,
      'only with a durable queue that another process flushes (RedisStreamQueue): the memory queue would never reach the database',
    );
  }
  const retryDelayMs = parseDuration('retryDelay', o.retryDelay ?? '100ms');
  const maxRetryDelayMs = parseDuration('maxRetryDelay', o.maxRetryDelay ?? '30s');
  if (maxRetryDelayMs < retryDelayMs)
    throw new CacheConfigError('maxRetryDelay', o.maxRetryDelay, 'must not be below retryDelay');
  return {
    batchSize: int('batchSize', o.batchSize, 2000, 100_000),
    maxDelayMs: parseDuration('maxDelay', o.maxDelay ?? '100ms', true),
    maxAttempts: int('maxAttempts', o.maxAttempts, 10, 1000),
    retryDelayMs,
    maxRetryDelayMs,
    closeTimeoutMs: parseDuration('closeTimeout', o.closeTimeout ?? '30s'),
    shutdownHook: o.shutdownHook ?? false,
    flusher: o.flusher ?? true,
  };
}
