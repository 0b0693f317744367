import 'reflect-metadata';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { CachePolicy, MemoryWriteQueue, type WriteBehind } from '../../src';
import { startWriteBehind } from '../../src/typeorm';
import { sleep } from '../support/services';
import { dropTables, openWbDb, type WbDb } from './fixture';

const TABLE = `wb_pacing_${process.pid}`;

@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: TABLE })
class WbPacingRow {
  @PrimaryColumn('int')
  id!: number;
  @Column('int')
  n!: number;
}

/** The in-process queue, counting the flusher's reads. */
class CountingQueue extends MemoryWriteQueue {
  reads = 0;
  /** The most entries a read asked for. */
  largest = 0;
  override read(max: number, waitMs: number) {
    this.reads++;
    this.largest = Math.max(this.largest, max);
    return super.read(max, waitMs);
  }
}

/*
 * While a batch fills, the flusher does not read after every write: a read returns as soon as
 * one entry is there, and each costs a request. Reads are at least 5 ms apart then.
 */
describe('write-behind flusher: reads while a batch fills', () => {
  let db: WbDb;
  let wb: WriteBehind | undefined;

  beforeAll(async () => {
    db = await openWbDb([WbPacingRow], { memoryOnly: true });
  });
  afterAll(async () => {
    await wb?.close();
    await dropTables(db.ds, [TABLE]);
    await db.close();
  });

  test('writes a millisecond apart are read a few at a time, and all reach the database', async () => {
    const queue = new CountingQueue();
    wb = startWriteBehind(db.ds, db.cache, { queue, maxDelay: '1h' });
    const rows = db.ck.repository(db.ds.getRepository(WbPacingRow));
    await sleep(20);
    const readsBefore = queue.reads;
    const t0 = Date.now();
    let saves = 0;
    while (Date.now() - t0 < 300) {
      await rows.save({ id: saves % 50, n: saves });
      saves++;
      await sleep(1);
    }
    const ms = Date.now() - t0;
    const reads = queue.reads - readsBefore;
    // One read per 5 ms at most, give or take the one in flight; a read per write before.
    expect(saves).toBeGreaterThan(reads * 2);
    expect(reads).toBeLessThanOrEqual(Math.ceil(ms / 5) + 2);
    await wb.flush('10s');
    const inDb = await db.ds.getRepository(WbPacingRow).find({ order: { id: 'ASC' } });
    expect(inDb).toHaveLength(Math.min(50, saves));
    for (const r of inDb) expect(r.n).toBe(saves - 1 - ((saves - 1 - r.id) % 50));
  });

  test('a read asks for at most 500 entries, whatever the batch size, and a backlog still drains', async () => {
    await wb?.close();
    // A backlog queued before the flusher starts: reads then take all they are allowed.
    const queue = new CountingQueue();
    wb = startWriteBehind(db.ds, db.cache, { queue, batchSize: 5000, flusher: true });
    const rows = db.ck.repository(db.ds.getRepository(WbPacingRow));
    await Promise.all(Array.from({ length: 3000 }, (_, i) => rows.save({ id: 100 + i, n: i })));
    await wb.flush('30s');
    // An entry of a RedisStreamQueue may name 256 writes: the read size bounds what one read holds.
    expect(queue.largest).toBe(500);
    expect(await db.ds.getRepository(WbPacingRow).count()).toBe(50 + 3000);
  });
});
