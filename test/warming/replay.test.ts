import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { Cache, Cacheable, CacheTimeoutError, type HeatStore } from '../../src';
import { RedisHeatStore, RedisStore } from '../../src/redis';
import { deletePrefix, REDIS_URL, requireRedis, startPrivateRedis, uniquePrefix } from '../support/services';
import { Products } from './fixtures/products_service';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');

describe('replay warming', () => {
  let admin: Redis;
  const prefixes: string[] = [];
  const clients: Redis[] = [];

  beforeAll(async () => {
    await requireRedis();
    admin = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for (const c of clients) await c.quit().catch(() => {});
    for (const p of prefixes) await deletePrefix(admin, p);
    await admin.quit();
  });

  function prefix(name: string): string {
    const p = uniquePrefix(`warm-${name}`);
    prefixes.push(p);
    return p;
  }
  function client(): Redis {
    const c = new Redis(REDIS_URL);
    clients.push(c);
    return c;
  }
  function coldCache(p: string, c: Redis, replayTop: number): Cache {
    return new Cache({
      prefix: p,
      tagVersionTtl: '1h',
      l2: { store: new RedisStore({ client: c }), timeout: '2s', writeTimeout: '2s' },
      warming: { heatStore: new RedisHeatStore({ client: c }), replayTop, concurrency: 1 },
    });
  }

  test('process A serves traffic; process B starts cold, replays the hottest calls and serves them as L1 hits without loading', async () => {
    const p = prefix('ab');
    const { stdout } = await run(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', join(__dirname, 'fixtures', 'replay_traffic.ts'), p],
      { cwd: ROOT, env: { ...process.env, REDIS_URL }, timeout: 60_000 },
    );
    const a = JSON.parse(stdout) as {
      before: { recorded: number; unreplayable: number; pending: number; flushes: number };
      loads: number;
    };
    // 50+40+30+25+20+15+100 hot calls and 25 cold ones, all counted in memory until close().
    expect(a.before.recorded).toBe(305);
    expect(a.before.flushes).toBe(0);
    expect(a.before.unreplayable).toBe(1); // search(new Filter(...)): one distinct call
    expect(a.loads).toBe(32); // 31 finds/byDay + 1 search: every distinct call loaded once

    const heatKey = `${p}:__:heat`;
    expect(await admin.zscore(heatKey, '["Products","find",[1]]')).toBe('50');
    expect(await admin.zcard(heatKey)).toBe(31); // the search call was never recorded
    // Members a foreign or tampered writer could add: the hottest of all, and none may be called.
    await admin.zadd(heatKey, 1000, '["Products","purge",[]]', 999, '["Products","list",[]]');
    await admin.zadd(heatKey, 998, '["Unregistered","find",[1]]', 997, 'not a call');

    const c = client();
    const cache = coldCache(p, c, 10);
    const products = new Products(cache);
    cache.warming.register(products);
    const order: string[] = [];
    const onHit = (e: { key: string; layer: string }) =>
      order.push(`${e.layer} ${e.key.slice(p.length + 3)}`);
    cache.on('hit', onHit);
    const report = await cache.warm();
    cache.off('hit', onHit);

    expect(report.ok).toBe(true);
    expect(report.reason).toBe('startup');
    expect(report.warmers).toEqual([
      expect.objectContaining({ name: 'replay', ok: true, total: 6, done: 6, failed: 0, skipped: 4 }),
    ]);
    // In order of heat, each an L2 hit: A loaded them, B's loader never ran.
    expect(order).toEqual([
      'l2 Products.find:1',
      'l2 Products.find:2',
      'l2 Products.find:3',
      'l2 Products.byDay:#Date(2024-01-02T00:00:00.000Z)',
      'l2 Products.find:4',
      'l2 Products.find:5',
    ]);
    expect(products.loads).toEqual([]);
    expect(products.purged).toBe(0);
    expect(cache.stats().warming.replay).toEqual(
      expect.objectContaining({ enabled: true, receivers: 1, replayed: 6, skipped: 4 }),
    );

    // Traffic arrives: every hot call is an L1 hit, no L2 round trip, no load.
    const before = cache.stats();
    for (const id of [1, 2, 3, 4, 5]) await products.find(id);
    await products.byDay(new Date('2024-01-02T00:00:00Z'));
    const after = cache.stats();
    expect(after.l1.hits - before.l1.hits).toBe(6);
    expect(after.l2.hits - before.l2.hits).toBe(0);
    expect(products.loads).toEqual([]);
    // A call outside the top 10 was not replayed: it needs L2.
    await products.find(6);
    expect(cache.stats().l2.hits - after.l2.hits).toBe(1);

    await cache.close();
  }, 90_000);

  test('recording costs no Redis call per decorated call: counts are flushed in one batch, and the set stays bounded', async () => {
    const p = prefix('batch');
    const c = client();
    const real = new RedisHeatStore({ client: c });
    let adds = 0;
    // The real store, counting how often the recorder talks to it.
    const counting: HeatStore = {
      add: (...a) => (adds++, real.add(...a)),
      top: (...a) => real.top(...a),
    };
    const cache = new Cache({
      prefix: p,
      l2: new RedisStore({ client: c }),
      warming: { heatStore: counting, replayTop: 2, heatCapacity: 3, flushInterval: '1h' },
    });
    const products = new Products(cache);
    for (let i = 0; i < 1000; i++) await products.find(1);
    for (let id = 2; id <= 6; id++) for (let i = 0; i < 10 - id; i++) await products.find(id);
    expect(adds).toBe(0);
    expect(await admin.exists(`${p}:__:heat`)).toBe(0);
    expect(cache.stats().warming.replay).toEqual(
      expect.objectContaining({ recording: true, pending: 6, recorded: 1000 + 8 + 7 + 6 + 5 + 4 }),
    );

    await cache.warming.flush();
    expect(adds).toBe(1);
    // Bounded to heatCapacity (3): the coldest were trimmed.
    expect(await admin.zrevrange(`${p}:__:heat`, 0, -1, 'WITHSCORES')).toEqual([
      '["Products","find",[1]]',
      '1000',
      '["Products","find",[2]]',
      '8',
      '["Products","find",[3]]',
      '7',
    ]);
    expect(await admin.pttl(`${p}:__:heat`)).toBeGreaterThan(6 * 24 * 3600_000);
    // A second window adds to the same members.
    await products.find(3);
    await products.find(3);
    await cache.close(); // flushes what is left, stops the timer
    expect(adds).toBe(2);
    expect(await admin.zscore(`${p}:__:heat`, '["Products","find",[3]]')).toBe('9');
    expect(cache.stats().warming.replay).toEqual(
      expect.objectContaining({ recording: false, pending: 0, flushes: 2 }),
    );
  });

  test('maxTracked bounds memory between flushes; long or unreplayable arguments are counted and skipped', async () => {
    const p = prefix('bounds');
    const c = client();
    const cache = new Cache({
      prefix: p,
      l2: new RedisStore({ client: c }),
      warming: {
        heatStore: new RedisHeatStore({ client: c }),
        maxTracked: 3,
        maxArgBytes: 60,
        flushInterval: '1h',
      },
    });
    class Catalog {
      constructor(readonly cache: Cache) {}
      @Cacheable({ replay: true })
      async get(id: unknown): Promise<string> {
        return String(id);
      }
    }
    const catalog = new Catalog(cache);
    await catalog.get(1);
    await catalog.get('x'.repeat(100)); // encodes longer than maxArgBytes
    await catalog.get(new Map([[1, 2]])); // not plain data
    await catalog.get(2); // a fourth distinct call: over maxTracked
    await catalog.get(1); // already tracked: still counted
    expect(cache.stats().warming.replay).toEqual(
      expect.objectContaining({ recorded: 4, unreplayable: 2, dropped: 1, pending: 3 }),
    );
    await cache.close();
    expect(await admin.zrange(`${p}:__:heat`, 0, -1, 'WITHSCORES')).toEqual(['["Catalog","get",[1]]', '2']);
  });

  test('a replay-enabled method on a cache without a heat store reports it once on the error event', async () => {
    const cache = new Cache();
    const errors: string[] = [];
    cache.on('error', (e) => errors.push(`${e.operation}: ${e.error.message}`));
    const products = new Products(cache);
    await products.find(1);
    await products.find(2);
    expect(errors).toEqual([expect.stringContaining('warming.record: Invalid option "warming.heatStore"')]);
    expect(errors[0]).toContain('Products.find()');
    expect(cache.stats().warming.replay).toEqual(expect.objectContaining({ enabled: false, recorded: 0 }));
    await cache.close();
  });

  test('replay arguments round-trip: Dates, undefined, bigint and nested plain data come back equal', async () => {
    const p = prefix('args');
    const c = client();
    const seen: unknown[][] = [];
    class Reports {
      constructor(readonly cache: Cache) {}
      @Cacheable({ replay: true })
      async run(...args: unknown[]): Promise<number> {
        seen.push(args);
        return args.length;
      }
    }
    const args = [
      new Date('2024-05-06T07:08:09.010Z'),
      undefined,
      12345678901234567890n,
      { a: [1, { b: null }], $t: 'x' },
    ];
    const a = new Cache({
      prefix: p,
      l2: new RedisStore({ client: c }),
      warming: { heatStore: new RedisHeatStore({ client: c }) },
    });
    await new Reports(a).run(...args);
    await a.close();
    // B has no L2 entry to find (L1 only), so replay runs the method: the arguments must be equal.
    const b = new Cache({ prefix: p, warming: { heatStore: new RedisHeatStore({ client: c }) } });
    b.warming.register(new Reports(b));
    seen.length = 0;
    const r = await b.warm();
    expect(r.warmers[0]).toEqual(expect.objectContaining({ name: 'replay', done: 1, failed: 0 }));
    expect(seen).toEqual([args]);
    await b.close();
  });

  test('explicit replay without a heat store is a config error; registering two receivers of one class is refused', () => {
    const cache = new Cache();
    expect(() => cache.warm({ replay: true })).toThrow(/warming.heatStore/);
    cache.warming.register(new Products(cache));
    expect(() => cache.warming.register(new Products(cache))).toThrow(/another receiver of class "Products"/);
  });
});

describe('replay warming when Redis is gone', () => {
  test('replay fails within heatTimeout, other warmers still run, and lost flushes are counted, not thrown', async () => {
    const redis = await startPrivateRedis();
    const c = new Redis(redis.url, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: true,
      retryStrategy: () => 200,
    });
    c.on('error', () => {});
    const cache = new Cache({
      warming: { heatStore: new RedisHeatStore({ client: c }), heatTimeout: '300ms', flushInterval: '1h' },
    });
    const errors: string[] = [];
    cache.on('error', (e) => errors.push(e.operation));
    try {
      const products = new Products(cache);
      cache.warming.register(products);
      await products.find(1);
      // A Redis that hangs: every command waits for the pause to end.
      const admin = new Redis(redis.url);
      await admin.call('CLIENT', 'PAUSE', '2000', 'ALL');
      admin.disconnect();

      const started = Date.now();
      const report = await cache.warm([async function settings() {}], { replay: true });
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(report.ok).toBe(false);
      const [replay, settings] = report.warmers;
      expect(replay).toEqual(expect.objectContaining({ name: 'replay', ok: false, total: 0 }));
      expect(replay.error).toBeInstanceOf(CacheTimeoutError);
      expect(replay.error?.message).toBe(`heat.top timed out after 300 ms for key "cachekit:__:heat"`);
      expect(settings).toEqual(expect.objectContaining({ name: 'settings', ok: true }));

      await redis.stop();
      // Calls keep working; the flush that cannot reach Redis is counted and reported.
      expect(await products.find(1)).toEqual({ id: 1, name: 'product 1' });
      await cache.warming.flush();
      expect(cache.stats().warming.replay.flushErrors).toBe(1);
      expect(errors).toEqual(expect.arrayContaining(['warm:replay', 'warming.flush']));
    } finally {
      await cache.close();
      c.disconnect();
      await redis.stop();
    }
  });
});
