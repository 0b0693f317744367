import type { Cache } from '../cache';
import type { KeyedSerial } from './keyed_serial';
import { decodeRow } from './row_codec';
import type { WriteTarget } from './write_target';
import type { PendingWrite, WriteOp, WriteQueue } from './write_queue';

/** A row as the cache should show it. */
export interface RowState {
  readonly entity: string;
  readonly key: string;
  readonly op: WriteOp;
  /** The state (save) or primary key (remove). */
  readonly value: unknown;
}

/** Most rounds of "a newer write appeared while we wrote the cache". Each round is one race lost. */
const MAX_ROUNDS = 5;

/**
 * Keeps the cache entries of write-behind rows equal to their newest write.
 *
 * The cache has no compare-and-set, so each row's cache writes go through the per-row serial
 * (ordering them within this process) and every write made outside the save path is followed by
 * a look at the queue's record of the row: if a newer write was appended meanwhile (by another
 * process, whose own cache write may have landed before ours), its state is written instead.
 */
export class CacheSync {
  constructor(
    private readonly cache: Cache,
    private readonly target: WriteTarget,
    private readonly queue: WriteQueue,
    private readonly serial: KeyedSerial,
  ) {}

  /** Writes a row's state to the cache: the entity (save), or a tombstone (remove). */
  async show(row: RowState): Promise<void> {
    const options = this.target.entryOptions(row.entity, row.key, row.value, row.op);
    // A tombstone is a cached null: reads see "no such row" until the delete is flushed.
    await this.cache.set(row.key, row.op === 'save' ? row.value : null, options);
  }

  /**
   * After a flush committed these rows at their newest version (the queue retired their
   * records): the database now holds exactly the cached state, so the entry is rewritten with
   * it. That repairs an entry that was lost or never written (the writer died between its
   * append and its cache write, L2 was unreachable, L1 evicted it); a removed row's entry is
   * dropped, and the next read caches the database's answer.
   */
  async committed(rows: readonly RowState[]): Promise<void> {
    await this.each(rows, async (row) => {
      if (row.op === 'save') await this.show(row);
      else await this.cache.delete(row.key);
    });
  }

  /**
   * After the newest write of a row was dead-lettered: its entry shows a state the database
   * does not hold, so it is dropped and reads fall back to what the database really holds.
   */
  async abandoned(row: RowState): Promise<void> {
    await this.each([row], (r) => this.cache.delete(r.key));
  }

  /** Runs `write` per row in the row's serial, then replaces any row that got a newer write meanwhile. */
  private async each(rows: readonly RowState[], write: (row: RowState) => Promise<void>): Promise<void> {
    let todo: { row: RowState; shown: number }[] = rows.map((row) => ({ row, shown: 0 }));
    for (let round = 0; todo.length > 0 && round < MAX_ROUNDS; round++) {
      const w = write;
      await Promise.all(todo.map((t) => this.serial.run(t.row.key, () => w(t.row))));
      const newer = await this.queue.latest(todo.map((t) => t.row.key));
      const next: { row: RowState; shown: number }[] = [];
      for (let i = 0; i < todo.length; i++) {
        const p: PendingWrite | undefined = newer[i];
        // A pending version we already wrote is settled: its own flush takes over from here.
        if (p !== undefined && p.version > todo[i].shown) {
          next.push({ row: this.stateOf(todo[i].row, p), shown: p.version });
        }
      }
      todo = next;
      write = (r) => this.show(r);
    }
    // Still racing after several rounds: an entry that is gone is safe (reads go to the
    // database, and the pending write's flush rewrites it).
    await Promise.all(todo.map((t) => this.serial.run(t.row.key, () => this.cache.delete(t.row.key))));
  }

  private stateOf(row: RowState, p: PendingWrite): RowState {
    return { entity: row.entity, key: row.key, op: p.op, value: decodeRow(p.payload) };
  }
}
