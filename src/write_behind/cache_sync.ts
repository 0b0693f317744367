import type { Cache } from '../cache';
import type { KeyedSerial } from './keyed_serial';
import { decodeRow } from './row_codec';
import type { WriteTarget } from './write_target';
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
  ) {}

  /** The save path, already inside the row's serial: show the write just appended as `version`. */
  async saved(row: RowState, version: number): Promise<void> {
    await this.show(row);
    await this.converge([{ row, version, action: 'show' }], false);
  }

  /**
   * After a flush committed these rows at their newest version (the queue retired their
   * records): the database now holds exactly the cached state, so the entry is rewritten with
   * it. That repairs an entry that was lost or never written (the writer died between its
   * append and its cache write, L2 was unreachable, L1 evicted it); a removed row's entry is
   * dropped, and the next read caches the database's answer.
   */
  async committed(rows: readonly { row: RowState; version: number }[]): Promise<void> {
    const steps = rows.map(({ row, version }): Step => ({
      row,
      version,
      action: row.op === 'save' ? 'show' : 'drop',
    }));
    await Promise.all(steps.map((s) => this.serial.run(s.row.key, () => this.apply(s))));
    await this.converge(steps, true);
  }

  /**
   * After the newest write of a row was dead-lettered: its entry shows a state the database
   * does not hold, so it is dropped and reads fall back to what the database really holds.
   */
  async abandoned(row: RowState, version: number): Promise<void> {
    const step: Step = { row, version, action: 'drop' };
    await this.serial.run(row.key, () => this.apply(step));
    await this.converge([step], true);
  }

  /** Writes a row's state to the cache: the entity (save), or a tombstone (remove). */
  private async show(row: RowState): Promise<void> {
    const options = this.target.entryOptions(row.entity, row.key, row.value, row.op);
    // A tombstone is a cached null: reads see "no such row" until the delete is flushed.
    await this.cache.set(row.key, row.op === 'save' ? row.value : null, options);
  }

  private apply(step: Step): Promise<void> {
    return step.action === 'show' ? this.show(step.row) : this.cache.delete(step.row.key);
  }

  /** Re-checks rows after cache writes, and replaces any whose record moved past what we wrote. */
  private async converge(done: readonly Step[], serialize: boolean): Promise<void> {
    let todo = done;
    for (let round = 0; todo.length > 0; round++) {
      const records = await this.queue.latest(todo.map((s) => s.row.key));
      const next: Step[] = [];
      todo.forEach((s, i) => {
        const rec = records[i];
        if (rec !== undefined && rec.version > s.version) next.push(this.stepFor(s.row, rec));
      });
      if (next.length === 0) return;
      // Still racing after several rounds: an entry that is gone is safe (reads go to the
      // database, and the pending write's flush rewrites it).
      const steps = round + 1 >= MAX_ROUNDS ? next.map((s): Step => ({ ...s, action: 'drop' })) : next;
      // The save path runs inside the row's serial already; the flusher's calls do not.
      await Promise.all(
        steps.map((s) => (serialize ? this.serial.run(s.row.key, () => this.apply(s)) : this.apply(s))),
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
