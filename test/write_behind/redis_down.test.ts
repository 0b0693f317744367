import 'reflect-metadata';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { CachePolicy } from '../../src';
import { RedisStreamQueue } from '../../src/redis';
import { startWriteBehind } from '../../src/typeorm';
import { startPrivateRedis, type PrivateRedis } from '../support/services';
import { dropTables, openWbDb, type WbDb } from './fixture';

const TABLE = `wb_down_item_${process.pid}`;

@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: TABLE })
class WbDownItem {
  @PrimaryColumn('int')
  id!: number;
  @Column('text')
  name!: string;
}

describe('write-behind when the queue is unreachable', () => {
  let db: WbDb;
  let redis: PrivateRedis;

  beforeAll(async () => {
    db = await openWbDb([WbDownItem], { memoryOnly: true });
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis.stop();
    await dropTables(db.ds, [TABLE]);
    await db.close();
  });

  test('no acknowledgment without Redis: the save rejects and the cache does not show it', async () => {
    const queue = new RedisStreamQueue({
      url: redis.url,
      name: 'down',
      redis: { retryStrategy: () => null },
    });
    const wb = startWriteBehind(db.ds, db.cache, { queue, closeTimeout: '1s' });
    const errors: unknown[] = [];
    wb.on('error', (e) => errors.push(e));
    const items = db.ck.repository(db.ds.getRepository(WbDownItem));
    try {
      await items.save({ id: 1, name: 'before' });
      await wb.flush('5s');
      expect(await db.ds.getRepository(WbDownItem).findOneBy({ id: 1 })).toMatchObject({ name: 'before' });
      await redis.stop();
      const started = Date.now();
      await expect(items.save({ id: 2, name: 'during' })).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await items.findOneById(2)).toBeNull();
      expect(wb.stats().enqueued).toBe(1);
      // Reads still answer, from the database, but nothing read while pending writes cannot be
      // checked is cached: it could be older than one of them.
      await db.cache.delete('entity:WbDownItem:1'); // cached by its save, before the outage
      const read = Date.now();
      expect(await items.findOneById(1)).toMatchObject({ name: 'before' });
      expect(await items.findByIds([1, 2])).toEqual([expect.objectContaining({ id: 1, name: 'before' })]);
      expect(Date.now() - read).toBeLessThan(5000);
      expect(await db.cache.getEntry('entity:WbDownItem:1')).toBeUndefined();
      expect(await db.cache.getEntry('entity:WbDownItem:2')).toBeUndefined();
      expect(errors.some((e) => (e as { operation: string }).operation === 'writeBehind.pending')).toBe(true);
    } finally {
      await wb.close();
    }
  });
});
