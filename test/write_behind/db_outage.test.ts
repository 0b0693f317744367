import 'reflect-metadata';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import Redis from 'ioredis';
import { CachePolicy, type WriteBehindEventMap } from '../../src';
import { RedisStreamQueue } from '../../src/redis';
import { startWriteBehind } from '../../src/typeorm';
import { DATABASE_URL, deletePrefix, REDIS_URL, sleep, uniquePrefix } from '../support/services';
import { createAudit, dropAudit, dropTables, openWbDb, type WbDb } from './fixture';
import { TcpProxy } from './tcp_proxy';

const TABLE = `wb_outage_item_${process.pid}`;

@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: TABLE })
class WbOutageItem {
  @PrimaryColumn('int')
  id!: number;
  @Column('text')
  name!: string;
  @Column('int')
  rev!: number;
}

describe('write-behind during a database outage (PostgreSQL behind a TCP proxy)', () => {
  let direct: WbDb;
  let proxied: WbDb;
  let proxy: TcpProxy;
  let admin: Redis;
  let audit: string;
  const name = uniquePrefix('wboutage');

  beforeAll(async () => {
    direct = await openWbDb([WbOutageItem]);
    audit = await createAudit(direct.ds, TABLE);
    const u = new URL(DATABASE_URL);
    proxy = new TcpProxy(u.hostname, Number(u.port || 5432));
    const port = await proxy.start();
    u.host = `127.0.0.1:${port}`;
    proxied = await openWbDb([WbOutageItem], {
      url: u.toString(),
      extra: { synchronize: false, poolErrorHandler: () => {} },
    });
    admin = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await proxied.close();
    await proxy.stop();
    await dropAudit(direct.ds, TABLE);
    await dropTables(direct.ds, [TABLE]);
    await direct.close();
    await deletePrefix(admin, name);
    await admin.quit();
  });

  test('saves while the database is down are retried with backoff; after it returns, nothing is lost or duplicated', async () => {
    const wb = startWriteBehind(proxied.ds, proxied.cache, {
      queue: new RedisStreamQueue({ client: proxied.redis!, name }),
      retryDelay: '50ms',
      maxRetryDelay: '400ms',
      maxAttempts: 1000,
    });
    const retries: WriteBehindEventMap['retry'][] = [];
    wb.on('retry', (r) => retries.push(r));
    const items = proxied.ck.repository(proxied.ds.getRepository(WbOutageItem));
    const repo = direct.ds.getRepository(WbOutageItem);
    try {
      for (let id = 0; id < 50; id++) await items.save({ id, name: `a${id}`, rev: 1 });
      await wb.flush('10s');
      expect(await repo.count()).toBe(50);

      proxy.pause();
      // Updates to the first 50 rows and 50 new rows, twice each: 200 acknowledged writes.
      for (const rev of [2, 3]) {
        for (let id = 0; id < 100; id++) await items.save({ id, name: `b${id}`, rev });
      }
      expect(await items.findOneById(77)).toMatchObject({ rev: 3 }); // read-your-writes, DB down
      const deadline = Date.now() + 15_000;
      while (wb.stats().retries < 3 * 100 && Date.now() < deadline) await sleep(50);
      const attempts = retries.map((r) => r.attempt);
      expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
      expect(retries.every((r) => r.delayMs <= 400)).toBe(true);
      // Nothing reached the database while it was unreachable.
      expect(await repo.count()).toBe(50);
      expect(await repo.findOneBy({ id: 0 })).toMatchObject({ rev: 1 });
      expect(await wb.pending()).toBeGreaterThan(0);

      proxy.resume();
      await wb.flush('20s');
      const rows = await repo.find({ order: { id: 'ASC' } });
      expect(rows).toHaveLength(100);
      for (const r of rows) expect(r).toMatchObject({ name: `b${r.id}`, rev: 3 });
      // Each state the database applied, it applied once.
      const dup = await direct.ds.query(
        `SELECT id, rev, count(*)::int AS n FROM "${audit}" GROUP BY id, rev HAVING count(*) > 1`,
      );
      expect(dup).toEqual([]);
      expect(wb.stats().deadLetters).toBe(0);
      expect(await wb.pending()).toBe(0);
    } finally {
      proxy.resume();
      await wb.close();
    }
  }, 60_000);

  test('a write still failing after maxAttempts is dead-lettered with its error, and its entry dropped', async () => {
    const qname = `${name}-dl`;
    const wb = startWriteBehind(proxied.ds, proxied.cache, {
      queue: new RedisStreamQueue({ client: proxied.redis!, name: qname }),
      retryDelay: '20ms',
      maxRetryDelay: '50ms',
      maxAttempts: 3,
    });
    const letters: WriteBehindEventMap['deadLetter'][] = [];
    wb.on('deadLetter', (d) => letters.push(d));
    const items = proxied.ck.repository(proxied.ds.getRepository(WbOutageItem));
    try {
      await items.save({ id: 500, name: 'kept', rev: 1 });
      await wb.flush('10s');
      proxy.pause();
      await items.save({ id: 500, name: 'lost', rev: 2 });
      expect(await items.findOneById(500)).toMatchObject({ name: 'lost' });
      await wb.flush('10s'); // settles: the write is dead-lettered
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ key: 'entity:WbOutageItem:500', attempts: 3, value: { rev: 2 } });
      const [dead] = await wb.deadLetters();
      expect(dead).toMatchObject({ entity: 'WbOutageItem', op: 'save', attempts: 3 });
      expect(JSON.parse(dead.payload)).toMatchObject({ name: 'lost' });
      expect(dead.error).not.toBe('');
      proxy.resume();
      // The cache no longer shows a state the database does not hold.
      expect(await items.findOneById(500)).toMatchObject({ name: 'kept', rev: 1 });
    } finally {
      proxy.resume();
      await wb.close();
      await deletePrefix(admin, qname);
    }
  }, 30_000);
});
