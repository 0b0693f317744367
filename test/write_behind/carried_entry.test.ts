import 'reflect-metadata';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import Redis from 'ioredis';
import { Cache, CachePolicy, type WriteBehind } from '../../src';
import { RedisStore, RedisStreamQueue } from '../../src/redis';
import { type CachedRepository, startWriteBehind } from '../../src/typeorm';
import { countCommands, until } from '../support/probes';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/services';
import { dropTables, openWbDb, type WbDb } from './fixture';

/*
 * When the write-behind queue and the cache's L2 share one Redis keyspace, the append script
 * stores the save's cache entry itself: one script call per batch of saves, no separate SET, no
 * version read, no confirmation. These tests pin that path and its fallback.
 */

const TABLE = `wb_carry_item_${process.pid}`;

@CachePolicy({ strategy: 'write-behind', ttl: '1h', tags: ['catalog'] })
@Entity({ name: TABLE })
class WbCarryItem {
  @PrimaryColumn('int')
  id!: number;
  @Column('text')
  name!: string;
  @Column('int')
  rev!: number;
}

const KEY = (id: number) => `entity:WbCarryItem:${id}`;

describe('write-behind: the append carries the cache entry (PostgreSQL, Redis)', () => {
  const prefix = uniquePrefix('wbcarry');
  const queues: string[] = [];
  let db: WbDb;
  let admin: Redis;
  let items: CachedRepository<WbCarryItem>;
  const opened: WriteBehind[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  const start = (client: Redis, options: Parameters<typeof startWriteBehind>[2] = {}) => {
    const name = uniquePrefix('wbcarry-q');
    queues.push(name);
    const wb = startWriteBehind(db.ds, db.cache, {
      maxDelay: '1h',
      ...options,
      queue: new RedisStreamQueue({ client, name }),
    });
    opened.push(wb);
    return wb;
  };
  /** A second instance of the application: same prefix, its own L1 and connection. */
  const instance = (l1 = true) => {
    const client = new Redis(REDIS_URL);
    const cache = new Cache({ prefix, l1: l1 ? {} : false, l2: new RedisStore({ client }) });
    closers.push(async () => {
      await cache.close();
      await client.quit();
    });
    return cache;
  };
  /** Collects the messages published on `channel` from now on. */
  const listen = async (channel: string) => {
    const sub = new Redis(REDIS_URL);
    closers.push(() => sub.quit());
    const got: string[] = [];
    sub.on('message', (ch: string, payload: string) => {
      if (ch === channel) got.push(payload);
    });
    await sub.subscribe(channel);
    return got;
  };
  /** The queue's record of a row: `<version>|<op>|<payload>`, the op upper-cased once shown. */
  const record = (wb: WriteBehind, id: number) =>
    admin.get(`${(wb.queue as RedisStreamQueue).streamKey}:r:${KEY(id)}`);

  beforeAll(async () => {
    db = await openWbDb([WbCarryItem], { prefix });
    admin = new Redis(REDIS_URL);
    items = db.ck.repository(db.ds.getRepository(WbCarryItem));
  });
  afterEach(async () => {
    for (const wb of opened.splice(0)) await wb.close();
    for (const c of closers.splice(0)) await c();
  });
  afterAll(async () => {
    await dropTables(db.ds, [TABLE]);
    await db.close();
    for (const q of queues) await deletePrefix(admin, q);
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  test('a save is one script call: the entry is in Redis when it resolves, and its record is marked shown', async () => {
    const wb = start(db.redis!);
    await items.save({ id: 1, name: 'warm-up', rev: 0 }); // loads the scripts, creates the group
    const seen = countCommands(db.redis!);
    await items.save({ id: 1, name: 'lamp', rev: 1 });
    // The flusher's own reads may interleave; the save itself sends one script and nothing else.
    expect(seen.names.filter((n) => n === 'evalsha')).toHaveLength(1);
    // The bus message to other instances goes out from the script too: no PUBLISH of its own.
    for (const n of ['set', 'get', 'mget', 'getrange', 'publish']) expect(seen.names).not.toContain(n);
    // The entry is there, stamped with the cache's current sequence, and readable by anyone.
    const raw = await admin.getBuffer(`${prefix}:_:${KEY(1)}`);
    expect(raw?.subarray(0, 4).toString('latin1')).toBe('ck2\x1f');
    const seq = Number((await admin.get(`${prefix}:__:seq`)) ?? 0);
    expect(raw!.subarray(4, raw!.indexOf(0x1f, 4)).toString()).toBe(String(seq));
    expect(await instance(false).get(KEY(1))).toMatchObject({ name: 'lamp', rev: 1 });
    // Shown: the flush has nothing to rewrite.
    expect(await record(wb, 1)).toMatch(/^\d+\|S\|/);
    expect(await db.redis!.pttl(`${prefix}:_:${KEY(1)}`)).toBeGreaterThan(3_500_000);
  });

  test('the entry carries the row, entity and policy tags, stamped at the append', async () => {
    start(db.redis!);
    const reader = instance(false);
    // Invalidations made before the save do not hide it...
    await db.cache.invalidateTags(['row:WbCarryItem:2', 'rows:WbCarryItem', 'catalog']);
    await items.save({ id: 2, name: 'desk', rev: 1 });
    expect(await reader.get(KEY(2))).toMatchObject({ name: 'desk' });
    // ...one made after it does, for each of the three tags.
    for (const tag of ['row:WbCarryItem:2', 'rows:WbCarryItem', 'catalog']) {
      await items.save({ id: 2, name: `desk-${tag}`, rev: 2 });
      expect(await reader.get(KEY(2))).toMatchObject({ name: `desk-${tag}` });
      await reader.invalidateTags([tag]);
      expect(await reader.get(KEY(2))).toBeUndefined();
    }
  });

  test("a remove's tombstone is carried too: every instance reads null at once", async () => {
    const wb = start(db.redis!);
    await items.save({ id: 3, name: 'chair', rev: 1 });
    await wb.flush();
    const reader = instance(false);
    expect(await reader.get(KEY(3))).toMatchObject({ name: 'chair' });
    await items.remove(3);
    expect(await reader.getEntry(KEY(3))).toEqual({ value: null, layer: 'l2' });
    expect(await record(wb, 3)).toMatch(/^\d+\|R\|/);
    await wb.flush();
    expect(await db.ds.getRepository(WbCarryItem).findOneBy({ id: 3 })).toBeNull();
  });

  test("another instance's L1 copy of the row, and what depends on the row, are dropped by the save", async () => {
    start(db.redis!);
    await items.save({ id: 4, name: 'old', rev: 1 });
    const other = instance(true);
    expect(await other.get(KEY(4))).toMatchObject({ name: 'old' }); // now in its L1
    // Something of the other instance's that read the row, in its L1 under the row's tag.
    await other.set('summary-of-4', 'old', { tags: ['row:WbCarryItem:4'] });
    expect(await other.getEntry('summary-of-4')).toEqual({ value: 'old', layer: 'l1' });
    const published = countCommands(db.redis!);
    const messages = await listen(`${prefix}:__:bus`);
    await items.save({ id: 4, name: 'new', rev: 2 });
    expect(await until(async () => (await other.get<WbCarryItem>(KEY(4)))?.name === 'new')).toBe(true);
    expect(await other.get('summary-of-4')).toBeUndefined();
    // One message, sent by the append script: the row's L1 key to drop, its tags at the new sequence.
    expect(published.names).not.toContain('publish');
    expect(await until(async () => messages.length === 1)).toBe(true);
    const m = JSON.parse(messages[0]);
    expect(m).toMatchObject({ d: [expect.stringContaining(KEY(4))], v: expect.any(Number) });
    expect(m.t).toEqual(expect.arrayContaining([expect.stringContaining('row:WbCarryItem:4')]));
    expect(m.v).toBe(Number(await admin.get(`${prefix}:__:seq`)));
  });

  test('this instance reads its own save from L1, without a round trip', async () => {
    start(db.redis!);
    await items.save({ id: 5, name: 'mine', rev: 1 });
    const seen = countCommands(db.redis!);
    expect(await items.findOneById(5)).toMatchObject({ name: 'mine', rev: 1 });
    expect(seen.names).toEqual([]);
  });

  test('a client of its own on the same server and database still carries', async () => {
    const own = new Redis(REDIS_URL);
    closers.push(() => own.quit());
    const wb = start(own);
    expect(wb.queue.carries!(new RedisStore({ client: db.redis! }))).toBe(true);
    await items.save({ id: 6, name: 'shared', rev: 1 });
    expect(await record(wb, 6)).toMatch(/^\d+\|S\|/);
  });

  test('clients of another database or with another ioredis keyPrefix do not share the keyspace', async () => {
    const wb = start(db.redis!);
    const stores = [
      new RedisStore({ client: new Redis(REDIS_URL, { db: 2, lazyConnect: true }) }),
      new RedisStore({ client: new Redis(REDIS_URL, { keyPrefix: 'elsewhere:', lazyConnect: true }) }),
    ];
    for (const s of stores) {
      expect(wb.queue.carries!(s)).toBe(false);
      s.client.disconnect();
    }
  });

  test('a queue on another database cannot carry: the save writes the entry and confirms it', async () => {
    const other = new Redis(REDIS_URL, { db: 3 });
    const name = uniquePrefix('wbcarry-db3');
    closers.push(async () => {
      await deletePrefix(other, name);
      await other.quit();
    });
    const wb = startWriteBehind(db.ds, db.cache, {
      maxDelay: '1h',
      queue: new RedisStreamQueue({ client: other, name }),
    });
    opened.push(wb);
    expect(wb.queue.carries!(new RedisStore({ client: db.redis! }))).toBe(false);
    const seen = countCommands(db.redis!);
    await items.save({ id: 7, name: 'apart', rev: 1 });
    expect(seen.names).toContain('set');
    expect(await instance(false).get(KEY(7))).toMatchObject({ name: 'apart' });
    // The record, in database 3, is marked shown by the confirmation.
    expect(await other.get(`cachekit:wb:{${name}}:r:${KEY(7)}`)).toMatch(/^\d+\|S\|/);
    await wb.flush();
    expect(await db.ds.getRepository(WbCarryItem).findOneBy({ id: 7 })).toMatchObject({ name: 'apart' });
  });

  test('concurrent saves of one row from two instances: the entry always ends at the newest version', async () => {
    const name = uniquePrefix('wbcarry-two');
    queues.push(name);
    const b = await openWbDb([WbCarryItem], { prefix });
    closers.push(() => b.close());
    const wbA = startWriteBehind(db.ds, db.cache, {
      queue: new RedisStreamQueue({ client: db.redis!, name }),
    });
    const wbB = startWriteBehind(b.ds, b.cache, { queue: new RedisStreamQueue({ client: b.redis!, name }) });
    opened.push(wbA, wbB);
    const itemsB = b.ck.repository(b.ds.getRepository(WbCarryItem));
    const reader = instance(false);
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 === 0 ? items : itemsB).save({ id: 8, name: `r${round}-${i}`, rev: round * 100 + i }),
        ),
      );
      // The record names the newest version; the entry holds exactly that write's state.
      const rec = (await admin.get(`cachekit:wb:{${name}}:r:${KEY(8)}`))!;
      const newest = JSON.parse(rec.slice(rec.indexOf('|', rec.indexOf('|') + 1) + 1));
      expect(await reader.get(KEY(8))).toMatchObject({ name: newest.name, rev: newest.rev });
    }
    await Promise.all([wbA.flush('20s'), wbB.flush('20s')]);
    const row = await db.ds.getRepository(WbCarryItem).findOneBy({ id: 8 });
    expect(await reader.get(KEY(8))).toMatchObject({ name: row!.name, rev: row!.rev });
  });
});
