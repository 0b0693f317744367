import 'reflect-metadata';
import { Column, DataSource, Entity, PrimaryColumn } from 'typeorm';
import type { Cluster } from 'ioredis';
import { Cache, CachePolicy } from '../../src';
import { RedisLocks, RedisStore, RedisStreamQueue } from '../../src/redis';
import { cachekitTypeOrm, startWriteBehind } from '../../src/typeorm';
import { startCluster, type PrivateCluster } from '../support/cluster';
import { DATABASE_URL, requirePostgres, uniquePrefix } from '../support/services';

const ITEM = `cl_wb_item_${process.pid}`;

@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: ITEM })
class ClWbItem {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  name!: string;
}

describe('locks and the write-behind stream queue on Redis Cluster', () => {
  let cluster: PrivateCluster;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startCluster(3);
    client = cluster.client();
  });
  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
  });

  test('a lock is exclusive, released by its token only, and wakes a waiter', async () => {
    const a = new RedisLocks(client);
    const b = new RedisLocks(client);
    try {
      const keys = ['alpha', 'beta', 'gamma', 'delta']; // spread over several slots
      for (const k of keys) {
        const token = await a.acquire(k, 10_000);
        expect(token).toEqual(expect.any(String));
        expect(await b.acquire(k, 10_000)).toBeUndefined();
        await b.release(k, 'not-the-token');
        expect(await b.acquire(k, 10_000)).toBeUndefined();
        const woken = b.waitForRelease(k, 5_000);
        await a.release(k, token!);
        expect(await woken).toBe(true);
        expect(await b.acquire(k, 10_000)).toEqual(expect.any(String));
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('write-behind saves land in the cluster stream, the flush persists them', async () => {
    await requirePostgres();
    const cache = new Cache({
      prefix: uniquePrefix('clwb'),
      tagVersionTtl: '1h',
      l2: { store: new RedisStore({ client }), timeout: '2s', writeTimeout: '2s' },
    });
    const ck = cachekitTypeOrm(cache, { onError: (e) => console.error(e) });
    const ds = new DataSource({
      type: 'postgres',
      url: DATABASE_URL,
      entities: [ClWbItem],
      synchronize: true,
      subscribers: [ck.Subscriber],
      cache: { provider: ck.provider },
    });
    await ds.initialize();
    const queue = new RedisStreamQueue({ client, name: uniquePrefix('clwbq') });
    const wb = startWriteBehind(ds, cache, { queue, maxDelay: '1h' });
    try {
      const items = ck.repository(ds.getRepository(ClWbItem));
      for (let id = 1; id <= 5; id++) await items.save({ id, name: `n${id}` });
      expect(await client.xlen(queue.streamKey)).toBe(5);
      expect(await wb.pending()).toBe(5);
      expect(await ds.getRepository(ClWbItem).count()).toBe(0);
      expect(await items.findOneById(3)).toMatchObject({ name: 'n3' });
      await wb.flush();
      expect(await wb.pending()).toBe(0);
      const rows = await ds.getRepository(ClWbItem).find({ order: { id: 'ASC' } });
      expect(rows.map((r) => r.name)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    } finally {
      await wb.close();
      await ds.query(`DROP TABLE IF EXISTS "${ITEM}"`);
      await ds.destroy();
      await cache.close();
    }
  });
});
