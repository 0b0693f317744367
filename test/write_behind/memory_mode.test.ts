import 'reflect-metadata';
import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import {
  Cache,
  CachePolicy,
  CacheWriteError,
  MemoryWriteQueue,
  type WriteBehind,
  type WriteBehindEventMap,
} from '../../src';
import { CachedRepository, startWriteBehind } from '../../src/typeorm';
import { dropTables, openWbDb, type WbDb } from './fixture';

const ITEM = `wb_mem_item_${process.pid}`;
const NOTE = `wb_mem_note_${process.pid}`;
const FEATURED = `wb_mem_featured_${process.pid}`;
const EVENT = `wb_mem_event_${process.pid}`;

@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: ITEM })
class WbMemItem {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  name!: string;
  @Column('int')
  price!: number;
}

@Entity({ name: NOTE })
class WbMemNote {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  text!: string;
}

/** A row of primary-key columns only (nothing to update on a conflict), tied to an item by a foreign key. */
@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: FEATURED })
class WbMemFeatured {
  @PrimaryColumn('int')
  itemId!: number;
  @ManyToOne(() => WbMemItem, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'itemId' })
  item?: WbMemItem;
}

/** Dates in a column of default precision (whole seconds on MySQL/MariaDB) and of milliseconds. */
@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: EVENT })
class WbMemEvent {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  at!: Date;
  @Column({ precision: 3 })
  exact!: Date;
}

describe.each(['postgres', 'mariadb'] as const)('write-behind, memory-only (no Redis), on %s', (dbKind) => {
  let db: WbDb;
  let items: CachedRepository<WbMemItem>;
  let wb: WriteBehind | undefined;

  beforeAll(async () => {
    db = await openWbDb([WbMemItem, WbMemNote, WbMemFeatured, WbMemEvent], { memoryOnly: true, db: dbKind });
    items = db.ck.repository(db.ds.getRepository(WbMemItem));
  });
  afterEach(async () => {
    await wb?.close();
    wb = undefined;
  });
  afterAll(async () => {
    await dropTables(db.ds, [FEATURED, EVENT, ITEM, NOTE]);
    await db.close();
  });

  const inDb = (id: number) => db.ds.getRepository(WbMemItem).findOneBy({ id });

  test('a save is read back at once, reaches the database on close(), not before', async () => {
    // A batch deadline far away: only close() can flush.
    wb = startWriteBehind(db.ds, db.cache, { maxDelay: '1h' });
    expect(wb.queue).toBeInstanceOf(MemoryWriteQueue);
    const saved = await items.save({ id: 1, name: 'lamp', price: 10 });
    expect(saved).toBeInstanceOf(WbMemItem);
    const read = await items.findOneById(1);
    expect(read).toMatchObject({ id: 1, name: 'lamp', price: 10 });
    expect(await inDb(1)).toBeNull();
    expect(await wb.pending()).toBe(1);
    await wb.close();
    expect(await inDb(1)).toMatchObject({ id: 1, name: 'lamp', price: 10 });
    expect(wb.stats()).toMatchObject({ enqueued: 1, flushed: 1, batches: 1 });
    await expect(items.save({ id: 2, name: 'x', price: 1 })).rejects.toThrow(CacheWriteError);
    await expect(wb.flush()).rejects.toThrow(/closed/);
  });

  test('a missing primary key is a CacheWriteError at call time, and nothing is queued', async () => {
    wb = startWriteBehind(db.ds, db.cache, { maxDelay: '1h' });
    const err = await items.save({ name: 'no id', price: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheWriteError);
    expect((err as CacheWriteError).entity).toBe('WbMemItem');
    expect((err as Error).message).toMatch(/primary key \(id\) is required/);
    await expect(items.remove(undefined)).rejects.toThrow(CacheWriteError);
    expect(await wb.pending()).toBe(0);
    expect(wb.stats().enqueued).toBe(0);
  });

  test('without startWriteBehind, a write-behind save is a typed error; other entities save through TypeORM', async () => {
    await expect(items.save({ id: 3, name: 'a', price: 1 })).rejects.toThrow(/no write-behind runs/);
    const notes = db.ck.repository(db.ds.getRepository(WbMemNote));
    const n = await notes.save({ text: 'direct' });
    expect(await db.ds.getRepository(WbMemNote).findOneBy({ id: n.id })).toMatchObject({ text: 'direct' });
    await notes.remove(n.id);
    expect(await db.ds.getRepository(WbMemNote).findOneBy({ id: n.id })).toBeNull();
  });

  test('flush() waits for the database; removes are tombstones until their flush', async () => {
    wb = startWriteBehind(db.ds, db.cache, { maxDelay: '1h' });
    await items.save({ id: 10, name: 'desk', price: 100 });
    await wb.flush();
    expect(await inDb(10)).toMatchObject({ price: 100 });
    await items.remove(10);
    expect(await items.findOneById(10)).toBeNull(); // read-your-writes: the tombstone
    expect(await inDb(10)).not.toBeNull(); // plain TypeORM: only after the flush
    await wb.flush();
    expect(await inDb(10)).toBeNull();
    expect(await items.findOneById(10)).toBeNull();
  });

  test('a partial save keeps the other columns (merged in the row turn)', async () => {
    wb = startWriteBehind(db.ds, db.cache, { maxDelay: '1h' });
    await items.save({ id: 20, name: 'chair', price: 30 });
    const a = items.save({ id: 20, price: 31 });
    const b = items.save({ id: 20, name: 'armchair' });
    await Promise.all([a, b]);
    expect(await items.findOneById(20)).toMatchObject({ name: 'armchair', price: 31 });
    await wb.flush();
    expect(await inDb(20)).toMatchObject({ name: 'armchair', price: 31 });
  });

  test('a row of key columns only is flushed, and one its foreign key refuses is dead-lettered, not dropped', async () => {
    wb = startWriteBehind(db.ds, db.cache, { maxDelay: '1h' });
    const featured = db.ck.repository(db.ds.getRepository(WbMemFeatured));
    const letters: WriteBehindEventMap['deadLetter'][] = [];
    wb.on('deadLetter', (d) => letters.push(d));
    await items.save({ id: 30, name: 'sofa', price: 300 });
    await wb.flush();
    await featured.save({ itemId: 30 });
    await featured.save({ itemId: 30 }); // again: a conflict on the key, nothing to update
    await featured.save({ itemId: 999 }); // no such item
    await wb.flush();
    const rows = await db.ds.getRepository(WbMemFeatured).find({ order: { itemId: 'ASC' } });
    expect(rows.map((r) => r.itemId)).toEqual([30]);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ entity: 'WbMemFeatured', op: 'save', value: { itemId: 999 } });
  });

  test('a cached date is the one the database keeps (MySQL/MariaDB cut a DATETIME to its precision)', async () => {
    wb = startWriteBehind(db.ds, db.cache, { maxDelay: '1h' });
    const events = db.ck.repository(db.ds.getRepository(WbMemEvent));
    const when = new Date('2026-03-04T05:06:07.891Z');
    await events.save({ id: 1, at: when, exact: when });
    await wb.flush();
    const stored = await db.ds.getRepository(WbMemEvent).findOneByOrFail({ id: 1 });
    expect(stored.exact.getTime()).toBe(when.getTime());
    expect(await events.findOneById(1)).toEqual(stored);
  });

  test('cache.close() closes a write-behind on that cache first: its pending writes reach the database', async () => {
    const own = new Cache();
    const wbOwn = startWriteBehind(db.ds, own, { maxDelay: '1h' });
    await new CachedRepository(own, db.ds.getRepository(WbMemItem)).save({ id: 40, name: 'late', price: 4 });
    expect(await inDb(40)).toBeNull();
    await own.close();
    expect(wbOwn.closed).toBe(true);
    expect(await inDb(40)).toMatchObject({ id: 40, name: 'late', price: 4 });
    expect(wbOwn.stats()).toMatchObject({ enqueued: 1, flushed: 1 });
  });
});
