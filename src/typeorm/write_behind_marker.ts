import type { QueryRunner } from 'typeorm';

/*
 * The flusher marks the query runner of its transaction with the entities it writes. The
 * invalidation subscriber reads the mark: those rows' cached entries are the flusher's to keep
 * (it compares versions after the commit), so the subscriber bumps only the tables' tags.
 */

const FLUSH = Symbol('cachekit.writeBehindFlush');

/** Marks `qr` as running a write-behind flush of `entities` (entity names). */
export function markWriteBehindFlush(qr: QueryRunner, entities: ReadonlySet<string>): void {
  (qr.data as Record<symbol, unknown>)[FLUSH] = entities;
}

/** The entities a write-behind flush on `qr` writes, or `undefined` when `qr` is not flushing. */
export function writeBehindFlushOf(qr: QueryRunner | undefined): ReadonlySet<string> | undefined {
  const data = qr?.data as Record<symbol, unknown> | undefined;
  return data?.[FLUSH] as ReadonlySet<string> | undefined;
}
