import 'reflect-metadata';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import Redis from 'ioredis';
import { CachePolicy, type WriteBehind } from '../../src';
import { RedisStreamQueue } from '../../src/redis';
import { startWriteBehind } from '../../src/typeorm';
import { deletePrefix, REDIS_URL, sleep, uniquePrefix } from '../support/services';
import { dropTables, openWbDb, type WbDb } from './fixture';

const TABLE = `wb_producer_item_${process.pid}`;

@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: TABLE })
class WbProducerItem {
  @PrimaryColumn('int')
  id!: number;
  @Column('text')
  name!: string;
}

describe('a producer-only instance (flusher: false) and a flusher elsewhere (PostgreSQL)', () => {
  const prefix = uniquePrefix('wbprod');
  const name = uniquePrefix('wbprod-q');
  let app: WbDb;
  let worker: WbDb;
  let admin: Redis;

  beforeAll(async () => {
    // Two "processes" of one application: the web instance saves, the worker flushes.
    app = await openWbDb([WbProducerItem], { prefix });
    worker = await openWbDb([WbProducerItem], { prefix });
    admin = new Redis(REDIS_URL);
    await app.ds
      .getRepository(WbProducerItem)
      .insert(Array.from({ length: 50 }, (_, id) => ({ id, name: 'db' })));
  });
  afterAll(async () => {
    await dropTables(app.ds, [TABLE]);
    await app.close();
    await worker.close();
    await deletePrefix(admin, name);
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  test('saves are acknowledged and read back, nothing is persisted here, close() does not wait; the worker persists them', async () => {
    const producer: WriteBehind = startWriteBehind(app.ds, app.cache, {
      flusher: false,
      maxDelay: '5ms',
      queue: new RedisStreamQueue({ client: app.redis!, name }),
    });
    const items = app.ck.repository(app.ds.getRepository(WbProducerItem));
    await Promise.all(Array.from({ length: 50 }, (_, id) => items.save({ id, name: `saved-${id}` })));
    expect(await items.findOneById(7)).toMatchObject({ name: 'saved-7' });
    // With a flusher in this process the 5 ms deadline would have flushed long before this.
    await sleep(400);
    const plain = app.ds.getRepository(WbProducerItem);
    expect((await plain.find()).every((r) => r.name === 'db')).toBe(true);
    expect(await producer.pending()).toBe(50);
    expect(producer.stats().flushed).toBe(0);

    // No flusher anywhere yet: flush() can only wait, and says so when its time is up.
    await expect(producer.flush('100ms')).rejects.toThrow(/100/);
    const started = Date.now();
    await producer.close();
    expect(Date.now() - started).toBeLessThan(2000); // not closeTimeout (30 s)

    const flusher = startWriteBehind(worker.ds, worker.cache, {
      maxDelay: '5ms',
      queue: new RedisStreamQueue({ client: worker.redis!, name }),
    });
    try {
      await flusher.flush('20s');
      const rows = await plain.find({ order: { id: 'ASC' } });
      expect(rows.map((r) => r.name)).toEqual(Array.from({ length: 50 }, (_, id) => `saved-${id}`));
      expect(flusher.stats().flushed).toBe(50);
      expect(await flusher.pending()).toBe(0);
    } finally {
      await flusher.close();
    }
  });
});
