import 'reflect-metadata';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import Redis from 'ioredis';
import { Cacheable, CachePolicy, type WriteBehind } from '../../src';
import { RedisStreamQueue } from '../../src/redis';
import { type CachedRepository, startWriteBehind } from '../../src/typeorm';
import { until } from '../support/probes';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/services';
import { dropTables, openWbDb, type WbDb } from './fixture';

/*
 * A write-behind save changes the row before the database does, so the save itself must move
 * the row's tag: the flush does not (it only bumps the table's, for query results). Otherwise a
 * cached method that read the row, or a by-id load that raced the save, would keep the older
 * state after the flush, until its TTL. Three ways a save reaches Redis are covered: the queue
 * carrying the entry (same Redis), a queue apart (another database), and the memory queue.
 */

const TABLE = `wb_dep_item_${process.pid}`;

@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: TABLE })
class WbDepItem {
  @PrimaryColumn('int')
  id!: number;
  @Column('text')
  name!: string;
}

type QueueKind = 'carried' | 'apart' | 'memory';

describe.each<QueueKind>(['carried', 'apart', 'memory'])('write-behind row dependents (%s queue)', (kind) => {
  const prefix = uniquePrefix(`wbdep-${kind}`);
  const queueName = uniquePrefix(`wbdep-q-${kind}`);
  let a: WbDb;
  let b: WbDb;
  let apart: Redis | undefined;
  let wbA: WriteBehind;
  let wbB: WriteBehind;
  let itemsA: CachedRepository<WbDepItem>;
  let itemsB: CachedRepository<WbDepItem>;
  const key = (id: number) => `entity:WbDepItem:${id}`;

  const queue = (db: WbDb) => {
    if (kind === 'memory') return undefined;
    const client = kind === 'carried' ? db.redis! : (apart ??= new Redis(REDIS_URL, { db: 3 }));
    return new RedisStreamQueue({ client, name: queueName });
  };

  beforeAll(async () => {
    // Two instances of one application (one prefix); with the memory queue each has its own.
    a = await openWbDb([WbDepItem], { prefix });
    b = await openWbDb([WbDepItem], { prefix });
    wbA = startWriteBehind(a.ds, a.cache, { queue: queue(a) });
    wbB = startWriteBehind(b.ds, b.cache, { queue: queue(b) });
    itemsA = a.ck.repository(a.ds.getRepository(WbDepItem));
    itemsB = b.ck.repository(b.ds.getRepository(WbDepItem));
  });
  afterAll(async () => {
    await wbA.close();
    await wbB.close();
    await dropTables(a.ds, [TABLE]);
    await a.close();
    await b.close();
    const admin = new Redis(REDIS_URL);
    await deletePrefix(admin, prefix);
    await deletePrefix(admin, queueName);
    await admin.quit();
    if (apart) {
      await deletePrefix(apart, queueName);
      await apart.quit();
    }
  });

  /** A service whose cached method reads the row through the entity cache. */
  const service = (items: CachedRepository<WbDepItem>, db: WbDb) => {
    const cache = db.cache;
    class Names {
      runs = 0;
      @Cacheable({ cache, ttl: '1h' })
      async nameOf(id: number): Promise<string | undefined> {
        this.runs++;
        return (await items.findOneById(id))?.name;
      }
    }
    return new Names();
  };

  test('a cached method that read the row follows a save at once, and after the flush', async () => {
    const names = service(itemsA, a);
    await itemsA.save({ id: 1, name: 'a' });
    await wbA.flush();
    expect(await names.nameOf(1)).toBe('a');
    expect(await names.nameOf(1)).toBe('a');
    expect(names.runs).toBe(1);
    await itemsA.save({ id: 1, name: 'b' });
    expect(await names.nameOf(1)).toBe('b');
    await wbA.flush();
    expect(await names.nameOf(1)).toBe('b');
    expect(names.runs).toBe(2);
  });

  test("another instance's cached method follows the save too", async () => {
    if (kind === 'memory') {
      // Each instance flushes its own memory queue: B's read goes to the database after A's flush.
      await itemsA.save({ id: 2, name: 'x' });
      await wbA.flush();
    } else {
      await itemsA.save({ id: 2, name: 'x' });
    }
    const namesB = service(itemsB, b);
    expect(await namesB.nameOf(2)).toBe('x'); // in B's L1 now
    await itemsA.save({ id: 2, name: 'y' });
    if (kind === 'memory') await wbA.flush();
    expect(await until(async () => (await namesB.nameOf(2)) === 'y')).toBe(true);
  });

  test('a by-id load racing a save cannot leave the older database state cached', async () => {
    await itemsA.save({ id: 3, name: 'v1' });
    await wbA.flush();
    await a.cache.delete(key(3)); // the entry is gone (evicted, or never written)
    // A reader misses and reads the database (v1), slowly; a save of v2 lands meanwhile.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = a.cache.getOrLoad(
      key(3),
      async () => {
        const row = await a.ds.getRepository(WbDepItem).findOneBy({ id: 3 });
        await gate;
        return row;
      },
      { ttl: '1h', tags: ['row:WbDepItem:3', 'rows:WbDepItem'] },
    );
    await new Promise((r) => setTimeout(r, 50));
    await itemsA.save({ id: 3, name: 'v2' });
    release();
    expect(await slow).toMatchObject({ name: 'v1' }); // the reader gets what it read...
    expect(await itemsA.findOneById(3)).toMatchObject({ name: 'v2' }); // ...but it is not kept
    await wbA.flush();
    expect(await itemsA.findOneById(3)).toMatchObject({ name: 'v2' });
  });

  test('a pending save whose entry is gone is still read back, by id and in findByIds', async () => {
    await itemsA.save({ id: 4, name: 'db' });
    await itemsA.save({ id: 5, name: 'db' });
    await wbA.flush();
    await itemsA.save({ id: 4, name: 'pending' });
    await itemsA.remove(5);
    // Evicted before the flush: reads must not fall back to the database's older rows.
    await a.cache.delete(key(4));
    await a.cache.delete(key(5));
    expect(await itemsA.findByIds([4, 5])).toEqual([expect.objectContaining({ id: 4, name: 'pending' })]);
    await a.cache.delete(key(4));
    await a.cache.delete(key(5));
    expect(await itemsA.findOneById(4)).toMatchObject({ name: 'pending' });
    expect(await itemsA.findOneById(5)).toBeNull();
    await wbA.flush();
    expect(await a.ds.getRepository(WbDepItem).findOneBy({ id: 4 })).toMatchObject({ name: 'pending' });
    expect(await a.ds.getRepository(WbDepItem).findOneBy({ id: 5 })).toBeNull();
  });
});
