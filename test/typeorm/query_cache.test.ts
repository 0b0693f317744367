import 'reflect-metadata';
import {
  Column,
  CreateDateColumn,
  DataSource,
  Entity,
  PrimaryGeneratedColumn,
  type Repository,
} from 'typeorm';
import { type Db, openTypeOrm, type TypeOrmFixture } from '../support/typeorm';

const TABLE = `ck_qc_item_${process.pid}`;

@Entity({ name: TABLE })
class Item {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
  @Column('int')
  qty!: number;
  @CreateDateColumn()
  createdAt!: Date;
}

describe.each<Db>(['sqlite', 'postgres'])('TypeORM query-result cache on cachekit (%s)', (db) => {
  let ds: DataSource;
  let repo: Repository<Item>;
  let queries = 0;

  let fixture: TypeOrmFixture;

  beforeAll(async () => {
    fixture = await openTypeOrm(db, [Item], 'querycache');
    ({ ds } = fixture);
    repo = ds.getRepository(Item);
    // Count the SELECTs that reach the database.
    ds.subscribers.push({
      afterQuery: (e: { query: string }) => {
        if (/^\s*select/i.test(e.query) && e.query.includes(TABLE)) queries++;
      },
    } as never);
  });
  afterAll(() => fixture.close([TABLE]));
  beforeEach(async () => {
    await repo.createQueryBuilder().delete().execute();
    await repo.insert([
      { name: 'a', qty: 1 },
      { name: 'b', qty: 2 },
    ]);
  });

  const cachedAll = () => repo.find({ order: { id: 'ASC' }, cache: 60_000 });

  test('long queries get short keys: a memoized digest of the SQL plus the readable parameters', async () => {
    const keys: string[] = [];
    const onSet = (e: { key: string }) => keys.push(e.key);
    fixture.cache.on('set', onSet);
    try {
      const a = await repo.findOne({ where: { name: 'a' }, cache: 60_000 });
      const b = await repo.findOne({ where: { name: 'b' }, cache: 60_000 });
      const byQty = await repo.findOne({ where: { qty: 2 }, cache: 60_000 });
      expect([a?.name, b?.name, byQty?.name]).toEqual(['a', 'b', 'b']);
    } finally {
      fixture.cache.off('set', onSet);
    }
    const own = keys.filter((k) => k.includes('typeorm:q:'));
    expect(own).toHaveLength(3);
    for (const k of own) expect(k.length).toBeLessThan(200); // the engine would hash anything longer
    // Same SQL, different parameters: same digest, different keys; different SQL: different digest.
    const digest = (k: string) => k.split('typeorm:q:')[1].split(':')[0];
    expect(digest(own[0])).toBe(digest(own[1]));
    expect(own[0]).not.toBe(own[1]);
    expect(own[0]).toContain('"a"');
    expect(digest(own[2])).not.toBe(digest(own[0]));
  });

  test('a cached find is served from cachekit, as real entities with Dates', async () => {
    await cachedAll();
    const before = queries;
    const items = await cachedAll();
    expect(queries).toBe(before);
    expect(items.map((i) => i.name)).toEqual(['a', 'b']);
    expect(items[0]).toBeInstanceOf(Item);
    expect(items[0].createdAt).toBeInstanceOf(Date);
  });

  test('every write path invalidates cached queries after commit (TypeORM alone would serve the old rows)', async () => {
    expect((await cachedAll()).map((i) => i.qty)).toEqual([1, 2]);
    const a = (await repo.findOneBy({ name: 'a' }))!;
    a.qty = 10;
    await repo.save(a);
    expect((await cachedAll()).map((i) => i.qty)).toEqual([10, 2]);
    await repo.update({ name: 'b' }, { qty: 20 });
    expect((await cachedAll()).map((i) => i.qty)).toEqual([10, 20]);
    await ds.query(`UPDATE "${TABLE}" SET qty = 30 WHERE name = 'b'`);
    expect((await cachedAll()).map((i) => i.qty)).toEqual([10, 30]);
    await repo.delete({ name: 'a' });
    expect((await cachedAll()).map((i) => i.name)).toEqual(['b']);
  });

  test('.cache(id, ms) with getManyAndCount covers the count companion, and clear() empties the query cache', async () => {
    const page = () =>
      repo.createQueryBuilder('i').orderBy('i.id').cache('items-page', 60_000).getManyAndCount();
    expect((await page())[1]).toBe(2);
    await repo.insert({ name: 'c', qty: 3 });
    const [rows, count] = await page();
    expect(count).toBe(3);
    expect(rows.map((r) => r.name)).toEqual(['a', 'b', 'c']);
    const before = queries;
    await page();
    expect(queries).toBe(before);
    await ds.queryResultCache!.clear();
    await page();
    expect(queries).toBeGreaterThan(before);
  });

  test('inside a transaction that has written, reads bypass the cache and see their own writes', async () => {
    await cachedAll();
    await ds.transaction(async (em) => {
      await em.update(Item, { name: 'a' }, { qty: 99 });
      const inside = await em.find(Item, { order: { id: 'ASC' }, cache: 60_000 });
      expect(inside.map((i) => i.qty)).toEqual([99, 2]);
    });
    expect((await cachedAll()).map((i) => i.qty)).toEqual([99, 2]);
  });

  test('a query racing a write never leaves a stale result behind (stale-set race)', async () => {
    // Hold the SELECT after the cache miss was recorded, commit a write meanwhile, then let it store.
    const provider = ds.queryResultCache!;
    const original = provider.storeInCache.bind(provider);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = false;
    provider.storeInCache = async (...args: Parameters<typeof original>) => {
      if (!held) {
        held = true;
        await gate;
      }
      return original(...args);
    };
    try {
      const slow = cachedAll();
      while (!held) await new Promise((r) => setTimeout(r, 5));
      await repo.update({ name: 'a' }, { qty: 7 });
      release();
      expect((await slow).map((i) => i.qty)).toEqual([1, 2]); // read before the write
      expect((await cachedAll()).map((i) => i.qty)).toEqual([7, 2]); // never the stale result
    } finally {
      provider.storeInCache = original;
    }
  });
});
