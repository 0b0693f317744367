import Redis from 'ioredis';
import { Cache, CacheStoreError, CacheTimeoutError, type CacheEventMap } from '../../src';
import { RedisStore } from '../../src/redis';
import { requestSize } from '../../src/redis/tick_batcher';
import {
  deletePrefix,
  REDIS_URL,
  requireRedis,
  sleep,
  startPrivateRedis,
  uniquePrefix,
} from '../support/services';
import { countCommands } from '../support/probes';

describe('RedisStore', () => {
  let client: Redis;
  let admin: Redis;
  const prefix = uniquePrefix('redis-store');

  beforeAll(async () => {
    await requireRedis();
    client = new Redis(REDIS_URL);
    admin = new Redis(REDIS_URL);
    await client.ping();
  });
  afterAll(async () => {
    await deletePrefix(admin, prefix);
    await client.quit();
    await admin.quit();
  });

  test('an L2 hit, tag check included, is one MGET (entries and versions read at one instant)', async () => {
    const cache = new Cache({ prefix, l1: false, l2: new RedisStore({ client }), tagVersionTtl: '1h' });
    await cache.set('one-trip', { id: 1 }, { tags: ['a', 'b', 'c'] });
    await cache.invalidateTags(['unrelated']);
    const seen = countCommands(client);
    for (let i = 0; i < 10; i++) expect(await cache.get('one-trip')).toEqual({ id: 1 });
    expect(seen.names).toEqual(Array(10).fill('mget'));
    expect(seen.writes).toBe(10);
  });

  test('with tag hints off, an L2 hit is one script call', async () => {
    const store = new RedisStore({ client, tagHints: 0 });
    const cache = new Cache({ prefix, l1: false, l2: store, tagVersionTtl: '1h' });
    await cache.set('one-script', { id: 1 }, { tags: ['a', 'b', 'c'] });
    const seen = countCommands(client);
    for (let i = 0; i < 10; i++) expect(await cache.get('one-script')).toEqual({ id: 1 });
    expect(seen.names).toEqual(Array(10).fill('evalsha'));
  });

  test('an instance reading an entry it did not write checks unknown tags with the script once, then reads with one MGET', async () => {
    const writer = new Cache({ prefix, l1: false, l2: new RedisStore({ client }), tagVersionTtl: '1h' });
    const other = new Redis(REDIS_URL);
    await other.ping();
    try {
      const reader = new Cache({
        prefix,
        l1: false,
        l2: new RedisStore({ client: other }),
        tagVersionTtl: '1h',
      });
      await writer.set('foreign', { id: 7 }, { tags: ['f1', 'f2'] });
      const seen = countCommands(other);
      expect(await reader.get('foreign')).toEqual({ id: 7 });
      expect(seen.names).toEqual(['mget', 'evalsha']);
      expect(await reader.get('foreign')).toEqual({ id: 7 });
      expect(seen.names.slice(2)).toEqual(['mget']);
      // The learned tags are really checked: invalidating one makes the next read a miss.
      await writer.invalidateTags(['f2']);
      expect(await reader.get('foreign')).toBeUndefined();
      expect(seen.names.slice(3)).toEqual(['mget']);
      // Tags that change under a key are learned again through the script.
      await writer.set('foreign', { id: 8 }, { tags: ['f3'] });
      expect(await reader.get('foreign')).toEqual({ id: 8 });
      expect(seen.names.slice(4)).toEqual(['mget', 'evalsha']);
    } finally {
      await other.quit();
    }
  });

  test('concurrent reads of one key share one L2 round trip', async () => {
    const cache = new Cache({ prefix, l1: false, l2: new RedisStore({ client }), tagVersionTtl: '1h' });
    await cache.set('coalesced', { id: 1 });
    const seen = countCommands(client);
    const got = await Promise.all(Array.from({ length: 100 }, () => cache.get('coalesced')));
    expect(got.every((g) => (g as { id: number }).id === 1)).toBe(true);
    expect(seen.names).toEqual(['mget']);
    expect(seen.writes).toBe(1);
  });

  test.each([
    ['MGETs of up to 64', undefined, 64, ['mget']],
    ['script calls of up to 16', 0, 16, ['evalsha']],
  ] as const)(
    'concurrent reads of different keys go out in batches (%s), each answered correctly',
    async (_label, tagHints, batch, perBatch) => {
      const cache = new Cache({
        prefix,
        l1: false,
        l2: new RedisStore({ client, tagHints }),
        tagVersionTtl: '1h',
      });
      const k = `batch${tagHints ?? 'h'}`;
      for (let i = 0; i < 50; i++) await cache.set(`${k}${i}`, { i }, { tags: [`${k}t${i % 5}`] });
      await cache.invalidateTags([`${k}t0`]); // every fifth entry is now stale
      const seen = countCommands(client);
      const reads = 150;
      const got = await Promise.all(Array.from({ length: reads }, (_, i) => cache.getEntry(`${k}${i}`)));
      // 150 reads in a few batches instead of 150 round trips (38 per MGET, 16 per script call).
      const batches = Math.ceil(reads / requestSize(reads, batch));
      expect(batches).toBe(tagHints === undefined ? 4 : 10);
      expect(seen.names).toEqual(Array(batches).fill(perBatch).flat());
      expect(seen.writes).toBe(batches);
      got.forEach((g, i) => {
        if (i >= 50 || i % 5 === 0) expect(g).toBeUndefined();
        else expect(g).toEqual({ value: { i }, layer: 'l2' });
      });
    },
  );

  test("a tick's reads go out as a few requests, so that Redis answers one while node sends the next", async () => {
    const cache = new Cache({ prefix, l1: false, l2: new RedisStore({ client }), tagVersionTtl: '1h' });
    for (let i = 0; i < 16; i++) await cache.set(`split${i}`, { i });
    const seen = countCommands(client);
    const got = await Promise.all(Array.from({ length: 16 }, (_, i) => cache.get(`split${i}`)));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => ({ i })));
    // Two MGETs of 8 entries each (then the versions they need), not one of 16; a lone read
    // stays one request.
    expect(seen.names).toEqual(['mget', 'mget']);
    const entries = seen.args.map((a) => a.map(String).filter((k) => /split\d+$/.test(k)));
    expect(entries.map((e) => e.map((k) => Number(/(\d+)$/.exec(k)![1])))).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7],
      [8, 9, 10, 11, 12, 13, 14, 15],
    ]);
    await cache.get('split0');
    expect(seen.names).toHaveLength(3);
  });

  test('a miss captures the sequence in the same round trip as the read', async () => {
    const cache = new Cache({ prefix, l1: false, l2: new RedisStore({ client }), tagVersionTtl: '1h' });
    const seen = countCommands(client);
    await cache.getOrLoad('miss-trip', () => 1);
    // read (entry and sequence in one MGET) then write; no separate GET of the sequence
    expect(seen.names).toEqual(['mget', 'set']);
    expect(seen.writes).toBe(2);
  });

  test('with an L1 to fill, the pipelined read also takes the remaining TTL', async () => {
    const store = new RedisStore({ client });
    const writer = new Cache({ prefix, l1: false, l2: store, tagVersionTtl: '1h' });
    await writer.set('ttl-fill', 'v', { ttl: '10m', tags: ['tf'] });
    await client.pexpire(`${prefix}:_:ttl-fill`, 700);
    const reader = new Cache({ prefix, l2: store, tagVersionTtl: '1h' });
    const seen = countCommands(client);
    expect(await reader.get('ttl-fill')).toBe('v');
    expect(seen.names).toEqual(['mget', 'mget', 'pttl']);
    expect(seen.writes).toBe(1);
    expect(await reader.getEntry('ttl-fill')).toEqual({ value: 'v', layer: 'l1' });
    // L1 got the entry with the 0.7 s left in Redis, not the 10 min it was written with.
    await sleep(900);
    expect(await reader.getEntry('ttl-fill')).toBeUndefined();
  });

  test('sliding entries have their Redis TTL reset by reads', async () => {
    const cache = new Cache({ prefix, l1: false, l2: new RedisStore({ client }), tagVersionTtl: '1h' });
    await cache.set('slide', 1, { ttl: 2000, sliding: true });
    await sleep(600);
    const key = `${prefix}:_:slide`;
    expect(await admin.pttl(key)).toBeLessThan(1500);
    await cache.get('slide');
    expect(await admin.pttl(key)).toBeGreaterThan(1800);
  });

  test('msgpack and gzip compression round-trip, and the stored bytes are compressed', async () => {
    const cache = new Cache({
      prefix,
      l1: false,
      l2: new RedisStore({ client }),
      serializer: 'msgpack',
      compression: { algorithm: 'gzip', threshold: 100 },
      tagVersionTtl: '1h',
    });
    const value = {
      at: new Date(5),
      big: 10n ** 30n,
      body: 'lorem ipsum '.repeat(500),
      m: new Map([[1, 'a']]),
    };
    await cache.set('packed', value);
    const raw = (await admin.getBuffer(`${prefix}:_:packed`))!;
    const header = raw.subarray(0, raw.indexOf(10)).toString().split('\x1f');
    expect(header.slice(3, 5)).toEqual(['msgpack', 'g']);
    expect(raw.length).toBeLessThan(1000);
    const got = (await cache.get<typeof value>('packed'))!;
    expect(got.at.getTime()).toBe(5);
    expect(got.big).toBe(10n ** 30n);
    expect(got.body).toBe(value.body);
    expect(got.m.get(1)).toBe('a');
  });

  test('brotli compression round-trips', async () => {
    const cache = new Cache({
      prefix,
      l1: false,
      l2: new RedisStore({ client }),
      compression: { algorithm: 'brotli', threshold: 10 },
      tagVersionTtl: '1h',
    });
    await cache.set('br', { text: 'abc'.repeat(1000) });
    const raw = (await admin.getBuffer(`${prefix}:_:br`))!;
    expect(raw.subarray(0, raw.indexOf(10)).toString().split('\x1f')[4]).toBe('b');
    expect(await cache.get('br')).toEqual({ text: 'abc'.repeat(1000) });
  });

  test('an entry written by another serializer is a reported miss, not garbage', async () => {
    const writer = new Cache({
      prefix,
      l1: false,
      l2: new RedisStore({ client }),
      serializer: 'msgpack',
      tagVersionTtl: '1h',
    });
    const reader = new Cache({ prefix, l1: false, l2: new RedisStore({ client }), tagVersionTtl: '1h' });
    const errors: CacheEventMap['error'][] = [];
    reader.on('error', (e) => errors.push(e));
    await writer.set('mixed', 1);
    expect(await reader.get('mixed')).toBeUndefined();
    expect(errors[0].error.message).toMatch(/msgpack/);
  });
});

describe('when Redis is unavailable', () => {
  test('a dead Redis: calls still succeed through the loader, errors are counted and reported', async () => {
    const server = await startPrivateRedis();
    const store = new RedisStore({
      url: server.url,
      redis: { retryStrategy: () => 50, connectTimeout: 200 },
    });
    const cache = new Cache({ l2: { store, timeout: 100, writeTimeout: 200 } });
    const errors: CacheEventMap['error'][] = [];
    cache.on('error', (e) => errors.push(e));
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown) => unhandled.push(r);
    process.on('unhandledRejection', onUnhandled);
    try {
      expect(await cache.getOrLoad('warm', () => 'ok')).toBe('ok');
      await server.stop();
      const started = Date.now();
      for (let i = 0; i < 5; i++) expect(await cache.getOrLoad(`down${i}`, () => `v${i}`)).toBe(`v${i}`);
      expect(Date.now() - started).toBeLessThan(5 * (100 + 200) + 500);
      expect(cache.stats().l2.errors).toBeGreaterThan(0);
      expect(errors.length).toBeGreaterThan(0);
      for (const e of errors)
        expect(e.error instanceof CacheStoreError || e.error instanceof CacheTimeoutError).toBe(true);
      // The invalidation is not lost: queued for Redis's return, and reported.
      await cache.invalidateTags(['x']);
      expect(cache.stats().l2.pendingInvalidations).toBe(1);
      await sleep(50);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await cache.close();
      await server.stop();
    }
  });

  test('a Redis that stops answering: reads time out with CacheTimeoutError and the loader answers', async () => {
    const server = await startPrivateRedis();
    const admin = new Redis(server.url);
    const store = new RedisStore({ url: server.url });
    const cache = new Cache({ l1: false, l2: { store, timeout: 100, writeTimeout: 200 } });
    const errors: CacheEventMap['error'][] = [];
    cache.on('error', (e) => errors.push(e));
    try {
      await cache.set('k', 'cached');
      await admin.client('PAUSE', 1500, 'ALL');
      const started = Date.now();
      expect(await cache.getOrLoad('k', () => 'loaded')).toBe('loaded');
      expect(Date.now() - started).toBeLessThan(1000);
      expect(errors.some((e) => e.error instanceof CacheTimeoutError && e.operation === 'l2.read')).toBe(
        true,
      );
      expect(cache.stats().l2.timeouts).toBeGreaterThan(0);
    } finally {
      await cache.close();
      admin.disconnect();
      await server.stop();
    }
  });
});
