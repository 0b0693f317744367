import 'reflect-metadata';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import Redis from 'ioredis';
import { Cache, CachePolicy, type WriteBehind } from '../../src';
import { RedisStore, RedisStreamQueue } from '../../src/redis';
import { type CachedRepository, startWriteBehind } from '../../src/typeorm';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/services';
import { createAudit, dropAudit, dropTables, openWbDb, type WbDb } from './fixture';

const TABLE = `wb_two_item_${process.pid}`;

@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: TABLE })
class WbTwoItem {
  @PrimaryColumn('int')
  id!: number;
  @Column('text')
  name!: string;
  @Column('int')
  rev!: number;
}

describe('two instances flushing one stream (PostgreSQL)', () => {
  const prefix = uniquePrefix('wbtwo');
  const name = uniquePrefix('wbtwo-q');
  let a: WbDb;
  let b: WbDb;
  let wbA: WriteBehind;
  let wbB: WriteBehind;
  let itemsA: CachedRepository<WbTwoItem>;
  let itemsB: CachedRepository<WbTwoItem>;
  let audit: string;
  let admin: Redis;

  beforeAll(async () => {
    // Two "processes" of one application: one cache prefix, one queue, one table.
    a = await openWbDb([WbTwoItem], { prefix });
    b = await openWbDb([WbTwoItem], { prefix });
    audit = await createAudit(a.ds, TABLE);
    admin = new Redis(REDIS_URL);
    // Small batches and short deadlines so that both flushers get work.
    const opts = { batchSize: 20, maxDelay: '5ms' };
    wbA = startWriteBehind(a.ds, a.cache, {
      ...opts,
      queue: new RedisStreamQueue({ client: a.redis!, name }),
    });
    wbB = startWriteBehind(b.ds, b.cache, {
      ...opts,
      queue: new RedisStreamQueue({ client: b.redis!, name }),
    });
    itemsA = a.ck.repository(a.ds.getRepository(WbTwoItem));
    itemsB = b.ck.repository(b.ds.getRepository(WbTwoItem));
  });
  afterAll(async () => {
    await wbA.close();
    await wbB.close();
    await dropAudit(a.ds, TABLE);
    await dropTables(a.ds, [TABLE]);
    await a.close();
    await b.close();
    await deletePrefix(admin, name);
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  test('each write is applied at most once, the newest version of every row wins, both instances flush', async () => {
    const IDS = 200;
    const REVS = 6;
    // Sequential and alternating between instances: append order is rev order for every row.
    for (let rev = 1; rev <= REVS; rev++) {
      const items = rev % 2 === 0 ? itemsA : itemsB;
      await Promise.all(
        Array.from({ length: IDS }, (_, id) => items.save({ id, name: `r${rev}-${id}`, rev })),
      );
    }
    await Promise.all([wbA.flush('20s'), wbB.flush('20s')]);
    const rows = await a.ds.getRepository(WbTwoItem).find({ order: { id: 'ASC' } });
    expect(rows).toHaveLength(IDS);
    for (const r of rows) expect(r).toMatchObject({ name: `r${REVS}-${r.id}`, rev: REVS });
    const dup = await a.ds.query(`SELECT id, rev FROM "${audit}" GROUP BY id, rev HAVING count(*) > 1`);
    expect(dup).toEqual([]);
    // Versions only move forward in the database: no older state was written after a newer one.
    const regress = await a.ds.query(
      `SELECT x.id FROM "${audit}" x JOIN "${audit}" y ON x.id = y.id AND y.seq > x.seq AND y.rev < x.rev`,
    );
    expect(regress).toEqual([]);
    const sa = wbA.stats();
    const sb = wbB.stats();
    expect(sa.flushed).toBeGreaterThan(0);
    expect(sb.flushed).toBeGreaterThan(0);
    // Every appended write was either written or superseded by a newer one, once.
    expect(sa.flushed + sa.coalesced + sb.flushed + sb.coalesced).toBe(IDS * REVS);
  });

  test('concurrent saves of the same rows from both instances: database and cache agree on the newest', async () => {
    const IDS = 50;
    const saves: Promise<unknown>[] = [];
    for (let i = 0; i < 600; i++) {
      const items = i % 2 === 0 ? itemsA : itemsB;
      const id = 1000 + (i % IDS);
      saves.push(items.save({ id, name: `c${i}`, rev: i }));
    }
    await Promise.all(saves);
    await Promise.all([wbA.flush('20s'), wbB.flush('20s')]);
    const rows = await a.ds.getRepository(WbTwoItem).find({ where: {}, order: { id: 'ASC' } });
    const byId = new Map(rows.filter((r) => r.id >= 1000).map((r) => [r.id, r]));
    expect(byId.size).toBe(IDS);
    // A third view with no L1 of its own reads what both instances share (L2).
    const client = new Redis(REDIS_URL);
    const view = new Cache({ prefix, l1: false, l2: new RedisStore({ client }) });
    try {
      for (const [id, r] of byId) {
        const cached = await view.get<{ rev: number; name: string }>(`entity:WbTwoItem:${id}`);
        if (cached !== undefined) expect(cached).toMatchObject({ rev: r.rev, name: r.name });
      }
    } finally {
      await view.close();
      await client.quit();
    }
    const dup = await a.ds.query(`SELECT id, rev FROM "${audit}" GROUP BY id, rev HAVING count(*) > 1`);
    expect(dup).toEqual([]);
  });
});

describe('two instances: a slow flusher of an older version cannot overwrite a newer one', () => {
  const prefix = uniquePrefix('wbslow');
  const name = uniquePrefix('wbslow-q');
  let c: WbDb;
  let d: WbDb;
  let admin: Redis;
  let audit: string;
  const opened: WriteBehind[] = [];

  beforeAll(async () => {
    c = await openWbDb([WbTwoItem], { prefix });
    d = await openWbDb([WbTwoItem], { prefix });
    audit = await createAudit(c.ds, TABLE);
    admin = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for (const wb of opened) await wb.close();
    await dropAudit(c.ds, TABLE);
    await dropTables(c.ds, [TABLE]);
    await c.close();
    await d.close();
    await deletePrefix(admin, name);
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  test('the row lease makes the newer version wait for the older transaction, then win', async () => {
    const queue = (db: WbDb) => new RedisStreamQueue({ client: db.redis!, name });
    const wbC = startWriteBehind(c.ds, c.cache, { queue: queue(c), maxDelay: '1ms' });
    opened.push(wbC);
    // C's transaction for version 1 stalls until released.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const persist = wbC.target.persist.bind(wbC.target);
    wbC.target.persist = async (writes) => {
      entered();
      await gate;
      return persist(writes);
    };
    const id = 5000;
    try {
      await c.ck.repository(c.ds.getRepository(WbTwoItem)).save({ id, name: 'v1', rev: 1 });
      await inside;

      // Another instance appends version 2; only it is reading now, so it gets the entry.
      const wbD = startWriteBehind(d.ds, d.cache, { queue: queue(d), maxDelay: '1ms' });
      opened.push(wbD);
      await d.ck.repository(d.ds.getRepository(WbTwoItem)).save({ id, name: 'v2', rev: 2 });
      await new Promise((r) => setTimeout(r, 300));
      expect(wbD.stats().flushed).toBe(0); // waiting on C's lease
      expect(await d.ds.getRepository(WbTwoItem).findOneBy({ id })).toBeNull();

      release();
      await Promise.all([wbC.flush('10s'), wbD.flush('10s')]);
      expect(await c.ds.getRepository(WbTwoItem).findOneBy({ id })).toMatchObject({ name: 'v2', rev: 2 });
      const applied: { rev: number }[] = await c.ds.query(
        `SELECT rev FROM "${audit}" WHERE id = $1 ORDER BY seq`,
        [String(id)],
      );
      expect(applied.map((x) => x.rev)).toEqual([1, 2]);
      expect(wbD.stats().flushed).toBe(1);
    } finally {
      release();
    }
  });
});
