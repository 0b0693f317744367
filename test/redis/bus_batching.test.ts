import { until } from '../support/probes';
import Redis from 'ioredis';
import { Cache } from '../../src';
import { RedisStore } from '../../src/redis';
import { deletePrefix, REDIS_URL, requireRedis, sleep, uniquePrefix } from '../support/services';

/*
 * The L1 drops of one tick travel as one bus message: a burst of writes costs one PUBLISH, and
 * each other instance parses one message, not one per write.
 */
describe('bus: drops of one tick in one message', () => {
  const prefix = uniquePrefix('bus-batch');
  const admin = new Redis(REDIS_URL);
  const caches: Cache[] = [];
  const instance = () => {
    const cache = new Cache({ prefix, tagVersionTtl: '1h', l2: new RedisStore({ url: REDIS_URL }) });
    caches.push(cache);
    return cache;
  };

  beforeAll(() => requireRedis());
  afterAll(async () => {
    for (const c of caches) await c.close().catch(() => {});
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  test('20 writes in one tick in A: one message, and B drops all 20 L1 copies', async () => {
    const a = instance();
    const b = instance();
    expect(await until(() => a.stats().bus.live && b.stats().bus.live)).toBe(true);
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => a.set(k, 'old')));
    for (const k of keys) expect(await b.get(k)).toBe('old');
    for (const k of keys) expect((await b.getEntry(k))?.layer).toBe('l1');
    expect(await until(() => b.stats().bus.received >= 1)).toBe(true);
    await sleep(50);
    const publishedBefore = a.stats().bus.published;
    const receivedBefore = b.stats().bus.received;

    await Promise.all(keys.map((k) => a.set(k, 'new')));
    expect(await until(() => b.stats().bus.received > receivedBefore)).toBe(true);
    await sleep(50);
    // One message when the 20 writes finish in one tick; a loaded machine may split their replies
    // over a tick or two, but never anywhere near one message per write.
    const published = a.stats().bus.published - publishedBefore;
    expect(published).toBeGreaterThanOrEqual(1);
    expect(published).toBeLessThanOrEqual(3);
    expect(b.stats().bus.received - receivedBefore).toBe(published);
    for (const k of keys) expect(await b.get(k)).toBe('new');
  });

  test('a write made just before close still drops the other instance’s copy', async () => {
    const a = instance();
    const b = instance();
    expect(await until(() => a.stats().bus.live && b.stats().bus.live)).toBe(true);
    await a.set('last', 'old');
    expect(await b.get('last')).toBe('old');
    expect((await b.getEntry('last'))?.layer).toBe('l1');
    const received = b.stats().bus.received;
    // set() resolves with its drop queued for the end of the tick; close() starts before that.
    await a.set('last', 'new');
    await a.close();
    expect(await until(() => b.stats().bus.received > received)).toBe(true);
    expect(await b.get('last')).toBe('new');
  });
});
