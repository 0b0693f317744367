import { until } from '../support/probes';
import Redis from 'ioredis';
import { Cache } from '../../src';
import { RedisStore } from '../../src/redis';
import { deletePrefix, REDIS_URL, requireRedis, sleep, uniquePrefix } from '../support/services';

describe('L1 invalidation bus on Redis pub/sub', () => {
  const prefix = uniquePrefix('bus');
  const admin = new Redis(REDIS_URL);
  const caches: Cache[] = [];
  const instance = (name: string) => {
    const cache = new Cache({
      prefix,
      tagVersionTtl: '1h',
      l2: new RedisStore({ url: REDIS_URL, redis: { connectionName: `${prefix}-${name}` } }),
    });
    caches.push(cache);
    return cache;
  };

  beforeAll(() => requireRedis());
  afterAll(async () => {
    for (const c of caches) await c.close();
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  test('a tag bump in instance A reaches B’s L1: B’s next read after the propagation window is fresh', async () => {
    const a = instance('a1');
    const b = instance('b1');
    expect(await until(() => a.stats().bus.live && b.stats().bus.live)).toBe(true);
    let db = 'v1';
    const read = (c: Cache) => c.getOrLoad('row', async () => db, { tags: ['rows'] });
    expect(await read(a)).toBe('v1');
    expect(await read(b)).toBe('v1');
    expect((await b.getEntry('row'))?.layer).toBe('l1');
    db = 'v2';
    await a.invalidateTags(['rows']);
    expect(await until(() => b.stats().bus.received > 0)).toBe(true);
    expect(await read(b)).toBe('v2');
    const lag = b.stats().bus.lagMs;
    expect(lag.p99).toBeGreaterThanOrEqual(lag.p50);
    expect(lag.p99).toBeLessThan(1000);
  });

  test('set and delete in A drop B’s L1 copy (no tag moved, so only the bus can tell B)', async () => {
    const a = instance('a2');
    const b = instance('b2');
    expect(await until(() => a.stats().bus.live && b.stats().bus.live)).toBe(true);
    await a.set('k', 'one');
    expect(await b.get('k')).toBe('one');
    expect((await b.getEntry('k'))?.layer).toBe('l1');
    await a.set('k', 'two');
    expect(await until(async () => (await b.get('k')) === 'two')).toBe(true);
    await a.delete('k');
    expect(await until(async () => (await b.get('k')) === undefined)).toBe(true);
  });

  test('B’s subscriber killed: L1 emptied and unused while down, nothing invalidated meanwhile is served, then back', async () => {
    const a = instance('a3');
    const b = instance('b3');
    expect(await until(() => a.stats().bus.live && b.stats().bus.live)).toBe(true);
    let db = 'old';
    const read = (c: Cache) => c.getOrLoad('gap', async () => db, { tags: ['gap'] });
    expect(await read(b)).toBe('old');
    expect((await b.getEntry('gap'))?.layer).toBe('l1');

    // Kill B's subscriber connection (it carries B's connection name and is subscribed).
    const list = (await admin.client('LIST')) as string;
    const line = list.split('\n').find((l) => l.includes(`name=${prefix}-b3`) && / sub=1 /.test(l));
    expect(line).toBeDefined();
    const id = /\bid=(\d+)/.exec(line!)![1];
    await admin.client('KILL', 'ID', id);
    expect(await until(() => !b.stats().bus.live, 2000)).toBe(true);

    // While B is deaf: A writes and invalidates. B must not serve its old copy.
    db = 'new';
    await a.invalidateTags(['gap']);
    expect(await read(b)).toBe('new');
    // And while down, B fills no L1 (an entry could miss its invalidation).
    expect((await b.getEntry('gap'))?.layer).toBe('l2');

    expect(await until(() => b.stats().bus.live, 5000)).toBe(true);
    expect(b.stats().bus.reconnects).toBe(1);
    db = 'newer';
    await a.invalidateTags(['gap']);
    expect(await until(async () => (await read(b)) === 'newer')).toBe(true);
  });

  test('bus: false turns it off; a cache without L1 opens no bus', async () => {
    const quiet = new Cache({ prefix, bus: false, l2: new RedisStore({ url: REDIS_URL }) });
    const noL1 = new Cache({ prefix, l1: false, l2: new RedisStore({ url: REDIS_URL }) });
    caches.push(quiet, noL1);
    await sleep(50);
    expect(quiet.stats().bus.live).toBe(false);
    expect(noL1.stats().bus.live).toBe(false);
    await quiet.invalidateTags(['x']);
    expect(quiet.stats().bus.published).toBe(0);
  });
});
