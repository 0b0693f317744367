import { type Cache, prepareCarriedWrite } from '../cache';
import type { CarriedWrite } from '../engine/carried_write';
import type { Store } from '../stores/store';
import type { KeyedSerial } from './keyed_serial';
import { decodeRow } from './row_codec';
import type { EntryOptions, WriteTarget } from './write_target';
import type { RowRecord, WriteOp, WriteQueue } from './write_queue';

/** A row as the cache should show it. */
export interface RowState {
  readonly entity: string;
  readonly key: string;
  readonly op: WriteOp;
  /** The state (save) or primary key (remove). */
  readonly value: unknown;
}

/** A cache write to make, and the row version it reflects. */
interface Step {
  readonly row: RowState;
  readonly version: number;
  /** `show` the row's state, or `drop` its entry (reads then go to the database). */
  readonly action: 'show' | 'drop';
}

/** Most rounds of "a newer write appeared while we wrote the cache". Each round is one race lost. */
const MAX_ROUNDS = 5;

/**
 * Keeps the cache entries of write-behind rows equal to their newest write.
 *
 * The cache has no compare-and-set. So each row's cache writes go through the per-row serial
 * (ordering them within this process), and every cache write is followed by a look at the
 * queue's record of the row, which names its newest version: if a newer write was appended
 * meanwhile (by another process, whose own cache write may have landed before ours), its state
 * is written instead; if a newer write was already flushed, the entry is dropped and reads go to
 * the database. Whoever writes the cache last also checks last, so the entry converges.
 */
export class CacheSync {
  constructor(
    private readonly cache: Cache,
    private readonly target: WriteTarget,
    private readonly queue: WriteQueue,
    private readonly serial: KeyedSerial,
  ) {
    cache.on('error', this.onCacheError);
  }

  private capturing: Promise<number> | undefined;
  /**
   * L2 writes the cache reported failed. `set` does not reject when L2 misses a write; a
   * change of this count during a save's cache write means it may not be in L2 (another
   * key's failure only costs that save its confirmation: a rewrite at the flush).
   */
  private l2Failures = 0;
  private readonly onCacheError = (e: { operation: string }) => {
    if (e.operation === 'l2.set') this.l2Failures++;
  };

  /**
   * The cache's invalidation version, for `set(…, { since })`, shared by every cache write that
   * starts while one capture is in flight: concurrent saves pay one round trip for it, not one
   * each. An earlier capture only makes an entry look older, never newer.
   */
  capture(): Promise<number> {
    if (this.capturing !== undefined) return this.capturing;
    const p = this.cache.captureVersion().finally(() => {
      if (this.capturing === p) this.capturing = undefined;
    });
    this.capturing = p;
    return p;
  }

  /**
   * The save path without a carrier, already inside the row's serial, right after the append
   * of `version`: move the row's own tags (what depends on the row, or loaded it before the
   * write, becomes stale; a reader that found no pending write loads under an older capture),
   * show the write under a capture taken after that, then confirm it to the queue, so that the
   * flush need not rewrite the entry. A write L2 did not take is left unconfirmed. A failed
   * bump is queued by the cache and reported on its `error` event.
   */
  async saved(row: RowState, version: number): Promise<void> {
    const o = this.target.entryOptions(row.entity, row.key, row.op);
    await this.cache.invalidateTags(o.bump);
    const since = await this.capture();
    const failures = this.l2Failures;
    await this.show(row, since, o);
    const step: Step = { row, version, action: 'show' };
    if (this.l2Failures !== failures) {
      await this.converge([step], false);
      return;
    }
    await this.converge([step], false, await this.queue.confirm([{ key: row.key, version }]));
  }

  /**
   * The cache write of a save, prepared for the queue to carry in its append (see
   * `CarriedWrite`); `undefined` when it must go through `saved` instead.
   */
  carry(row: RowState, accepts: (store: Store) => boolean): CarriedWrite | undefined {
    const o = this.target.entryOptions(row.entity, row.key, row.op);
    const value = row.op === 'save' ? row.value : null;
    return prepareCarriedWrite(this.cache, row.key, value, o.options, o.tags, o.bump, accepts);
  }

  /** Stops listening to the cache. */
  dispose(): void {
    this.cache.off('error', this.onCacheError);
  }

  /**
   * After a flush committed these rows at their newest version (the queue retired their
   * records) without their savers having confirmed the cache shows them: the writer died
   * between its append and its cache write, or L2 missed the write. The database now holds the
   * state, so the entry is rewritten with it; a removed row's entry is dropped, and the next
   * read caches the database's answer.
   */
  async committed(rows: readonly { row: RowState; version: number }[]): Promise<void> {
    if (rows.length === 0) return;
    const steps = rows.map(({ row, version }): Step => ({
      row,
      version,
      action: row.op === 'save' ? 'show' : 'drop',
    }));
    const since = await this.capture();
    await Promise.all(steps.map((s) => this.serial.run(s.row.key, () => this.apply(s, since))));
    await this.converge(steps, true);
  }

  /**
   * After the newest write of a row was dead-lettered: its entry shows a state the database
   * does not hold, so it is dropped and reads fall back to what the database really holds.
   */
  async abandoned(row: RowState, version: number): Promise<void> {
    const step: Step = { row, version, action: 'drop' };
    await this.serial.run(row.key, () => this.cache.delete(row.key));
    await this.converge([step], true);
  }

  /** Writes a row's state to the cache: the entity (save), or a tombstone (remove). */
  private async show(
    row: RowState,
    since: number,
    o: EntryOptions = this.target.entryOptions(row.entity, row.key, row.op),
  ): Promise<void> {
    // A tombstone is a cached null: reads see "no such row" until the delete is flushed.
    await this.cache.set(row.key, row.op === 'save' ? row.value : null, {
      ...o.options,
      tags: o.tags,
      since,
    });
  }

  private apply(step: Step, since: number): Promise<void> {
    return step.action === 'show' ? this.show(step.row, since) : this.cache.delete(step.row.key);
  }

  /**
   * Re-checks rows after cache writes, and replaces any whose record moved past what we wrote.
   * `first` holds records already read for the first round.
   */
  private async converge(
    done: readonly Step[],
    serialize: boolean,
    first?: readonly (RowRecord | undefined)[],
  ): Promise<void> {
    let todo = done;
    for (let round = 0; todo.length > 0; round++) {
      const records =
        round === 0 && first !== undefined ? first : await this.queue.latest(todo.map((s) => s.row.key));
      const next: Step[] = [];
      todo.forEach((s, i) => {
        const rec = records[i];
        if (rec !== undefined && rec.version > s.version) next.push(this.stepFor(s.row, rec));
      });
      if (next.length === 0) return;
      // Still racing after several rounds: an entry that is gone is safe (reads go to the
      // database, and the pending write's flush rewrites it).
      const steps = round + 1 >= MAX_ROUNDS ? next.map((s): Step => ({ ...s, action: 'drop' })) : next;
      const since = await this.capture();
      // The save path runs inside the row's serial already; the flusher's calls do not.
      await Promise.all(
        steps.map((s) =>
          serialize ? this.serial.run(s.row.key, () => this.apply(s, since)) : this.apply(s, since),
        ),
      );
      if (steps !== next) return;
      todo = next;
    }
  }

  private stepFor(row: RowState, rec: RowRecord): Step {
    if (rec.flushed) return { row, version: rec.version, action: 'drop' };
    return {
      row: { entity: row.entity, key: row.key, op: rec.op, value: decodeRow(rec.payload) },
      version: rec.version,
      action: 'show',
    };
  }
}
