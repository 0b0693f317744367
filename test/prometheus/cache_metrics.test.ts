import { until } from '../support/probes';
import { register as defaultRegistry, Registry } from 'prom-client';
import { Cache, CacheConfigError, CacheTimeoutError } from '../../src';
import { cacheMetrics, type CacheMetrics } from '../../src/prometheus';
import { RedisStore } from '../../src/redis';
import { type PrivateRedis, sleep, startPrivateRedis, uniquePrefix } from '../support/services';
import { scrape, serveMetrics } from './scrape';

describe('cacheMetrics on a memory cache, scraped over HTTP', () => {
  let cache: Cache;
  let metrics: CacheMetrics;
  let server: Awaited<ReturnType<typeof serveMetrics>>;

  beforeAll(async () => {
    cache = new Cache({ prefix: uniquePrefix('prom-mem'), l1: { maxEntries: 3 } });
    metrics = cacheMetrics(cache, { buckets: [0.01, 1] });
    server = await serveMetrics(metrics);
  });
  afterAll(async () => {
    await server.close();
    metrics.close();
    await cache.close();
  });

  test('hits and misses by namespace and layer, the hit ratio, loads, L1 size and evictions', async () => {
    const orders = cache.namespace('orders');
    await orders.getOrLoad('a', () => 'A');
    await orders.getOrLoad('b', () => 'B');
    expect(await orders.getOrLoad('a', () => 'never')).toBe('A');
    await expect(
      cache.getOrLoad('x', () => {
        throw new Error('db down');
      }),
    ).rejects.toThrow('db down');
    // A loader slower than the hard timeout: the caller gets a timeout, the load goes on and is cached.
    let slowDone!: () => void;
    const slowStored = new Promise<void>((r) => (slowDone = r));
    cache.on('set', (e) => e.key.endsWith(':slow') && slowDone());
    await expect(
      cache.getOrLoad(
        'slow',
        async () => {
          await sleep(60);
          return 'S';
        },
        { timeouts: { hard: 10 } },
      ),
    ).rejects.toThrow(CacheTimeoutError);
    await slowStored;
    for (let i = 0; i < 5; i++) await cache.getOrLoad(`e${i}`, () => i);

    const s = await scrape(server.url);
    expect(s.status).toBe(200);
    expect(s.contentType).toBe(metrics.contentType);
    expect(s.contentType).toMatch(/^text\/plain; version=0\.0\.4/);

    expect(s.types.get('cachekit_hits_total')).toBe('counter');
    expect(s.value('cachekit_hits_total', { namespace: 'orders', layer: 'l1' })).toBe(1);
    expect(s.value('cachekit_hits_total', { namespace: 'orders', layer: 'l2' })).toBe(0);
    expect(s.value('cachekit_hits_total', { namespace: '_', layer: 'l1' })).toBe(0);
    expect(s.value('cachekit_misses_total', { namespace: 'orders' })).toBe(2);
    // x (failed), slow, e0..e4
    expect(s.value('cachekit_misses_total', { namespace: '_' })).toBe(7);
    expect(s.value('cachekit_layer_misses_total', { namespace: 'orders', layer: 'l1' })).toBe(2);
    expect(s.value('cachekit_layer_misses_total', { namespace: '_', layer: 'l1' })).toBe(7);
    expect(s.value('cachekit_layer_misses_total', { namespace: '_', layer: 'l2' })).toBe(0);

    expect(s.types.get('cachekit_hit_ratio')).toBe('gauge');
    expect(s.value('cachekit_hit_ratio')).toBeCloseTo(1 / 10);

    // Loads: a, b, slow and e0..e4 succeeded, x threw; custom buckets.
    expect(s.types.get('cachekit_load_duration_seconds')).toBe('histogram');
    expect(s.value('cachekit_load_duration_seconds_count', { result: 'ok' })).toBe(8);
    expect(s.value('cachekit_load_duration_seconds_count', { result: 'error' })).toBe(1);
    expect(s.value('cachekit_load_duration_seconds_bucket', { result: 'ok', le: '+Inf' })).toBe(8);
    const under10ms = s.value('cachekit_load_duration_seconds_bucket', { result: 'ok', le: '0.01' });
    const under1s = s.value('cachekit_load_duration_seconds_bucket', { result: 'ok', le: '1' });
    // The 60 ms loader is past the 10 ms bucket, within the 1 s one.
    expect(under10ms).toBeLessThanOrEqual(7);
    expect(under1s).toBe(8);
    expect(s.value('cachekit_load_duration_seconds_sum', { result: 'ok' })).toBeGreaterThanOrEqual(0.05);
    expect(s.value('cachekit_load_timeouts_total')).toBe(1);
    expect(s.value('cachekit_sets_total')).toBe(8);

    // Eight entries stored in an L1 of three.
    const st = cache.stats();
    expect(s.value('cachekit_l1_entries')).toBe(3);
    expect(s.value('cachekit_l1_bytes')).toBe(st.l1.bytes);
    expect(st.l1.bytes).toBeGreaterThan(0);
    expect(s.value('cachekit_l1_evictions_total')).toBe(5);

    // No L2, no bus: their series are present and at rest.
    expect(s.value('cachekit_l2_circuit_state', { state: 'closed' })).toBe(1);
    expect(s.value('cachekit_l2_circuit_state', { state: 'open' })).toBe(0);
    expect(s.value('cachekit_l2_errors_total', { kind: 'error' })).toBe(0);
    expect(s.value('cachekit_bus_live')).toBe(0);
    expect(s.has('cachekit_write_behind_pending')).toBe(false);
  });

  test('counters follow the cache between scrapes; an invalidation is counted', async () => {
    const before = await scrape(server.url);
    await cache.getOrLoad('e4', () => -1);
    await cache.invalidateTags(['t1', 't2']);
    const after = await scrape(server.url);
    expect(after.value('cachekit_hits_total', { namespace: '_', layer: 'l1' })).toBe(
      before.value('cachekit_hits_total', { namespace: '_', layer: 'l1' }) + 1,
    );
    expect(after.value('cachekit_invalidations_total')).toBe(
      before.value('cachekit_invalidations_total') + 2,
    );
  });
});

describe('cacheMetrics on L1 + Redis: L2 hits, the bus, then Redis killed', () => {
  let redis: PrivateRedis;
  const caches: Cache[] = [];
  const collectors: CacheMetrics[] = [];
  const prefix = uniquePrefix('prom-l2');

  const instance = () => {
    const cache = new Cache({
      prefix,
      tagVersionTtl: '1h',
      l2: {
        // Reconnect attempts stay frequent and short, so that a dead server fails calls fast.
        store: new RedisStore({ url: redis.url, redis: { retryStrategy: () => 50, connectTimeout: 200 } }),
        timeout: 200,
        writeTimeout: 300,
        circuitBreaker: { failureThreshold: 3, window: '10s', cooldown: '1m' },
      },
    });
    caches.push(cache);
    const m = cacheMetrics(cache);
    collectors.push(m);
    return { cache, metrics: m };
  };

  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    for (const m of collectors) m.close();
    for (const c of caches) await c.close();
    await redis.stop();
  });

  test('hits by layer, bus messages and lag, L2 errors and the circuit state', async () => {
    const a = instance();
    const b = instance();
    const sa = await serveMetrics(a.metrics);
    const sb = await serveMetrics(b.metrics);
    try {
      expect(await until(() => a.cache.stats().bus.live && b.cache.stats().bus.live, 5000)).toBe(true);
      await a.cache.getOrLoad('p', () => 'P', { tags: ['t'] });
      // B's L1 is empty: L2 answers, then its own L1.
      expect(await b.cache.getEntry('p')).toEqual({ value: 'P', layer: 'l2' });
      expect(await b.cache.getEntry('p')).toEqual({ value: 'P', layer: 'l1' });
      await a.cache.invalidateTags(['t']);
      expect(await until(() => b.cache.stats().bus.received > 0, 5000)).toBe(true);

      const up = await scrape(sb.url);
      expect(up.value('cachekit_hits_total', { namespace: '_', layer: 'l2' })).toBe(1);
      expect(up.value('cachekit_hits_total', { namespace: '_', layer: 'l1' })).toBe(1);
      expect(up.value('cachekit_layer_misses_total', { namespace: '_', layer: 'l1' })).toBe(1);
      expect(up.value('cachekit_misses_total', { namespace: '_' })).toBe(0);
      expect(up.value('cachekit_bus_live')).toBe(1);
      expect(up.value('cachekit_bus_messages_total', { direction: 'received' })).toBeGreaterThanOrEqual(1);
      const lag = b.cache.stats().bus.lagMs;
      expect(up.types.get('cachekit_bus_lag_seconds')).toBe('gauge');
      expect(up.value('cachekit_bus_lag_seconds', { quantile: '0.5' })).toBe(lag.p50 / 1000);
      expect(up.value('cachekit_bus_lag_seconds', { quantile: '0.99' })).toBe(lag.p99 / 1000);
      expect(up.value('cachekit_l2_circuit_state', { state: 'closed' })).toBe(1);
      const aUp = await scrape(sa.url);
      expect(aUp.value('cachekit_bus_messages_total', { direction: 'published' })).toBeGreaterThanOrEqual(1);
      expect(aUp.value('cachekit_layer_misses_total', { namespace: '_', layer: 'l2' })).toBe(1);

      await redis.stop();
      // Calls still succeed through their loaders; the failures open the circuit.
      for (let i = 0; i < 6; i++) expect(await a.cache.getOrLoad(`down${i}`, () => i)).toBe(i);
      expect(await until(() => !a.cache.stats().bus.live, 5000)).toBe(true);

      const down = await scrape(sa.url);
      const st = a.cache.stats();
      const errors =
        down.value('cachekit_l2_errors_total', { kind: 'error' }) +
        down.value('cachekit_l2_errors_total', { kind: 'timeout' });
      expect(errors).toBeGreaterThanOrEqual(3);
      expect(errors).toBe(st.l2.errors);
      expect(down.value('cachekit_l2_errors_total', { kind: 'timeout' })).toBe(st.l2.timeouts);
      expect(down.value('cachekit_l2_circuit_state', { state: 'open' })).toBe(1);
      expect(down.value('cachekit_l2_circuit_state', { state: 'closed' })).toBe(0);
      expect(down.value('cachekit_l2_circuit_opens_total')).toBe(1);
      expect(down.value('cachekit_l2_skipped_total')).toBeGreaterThan(0);
      expect(down.value('cachekit_bus_live')).toBe(0);
      expect(down.value('cachekit_load_duration_seconds_count', { result: 'ok' })).toBe(7);
      expect(down.value('cachekit_misses_total', { namespace: '_' })).toBe(7);
    } finally {
      await sa.close();
      await sb.close();
    }
  }, 30_000);
});

describe('cacheMetrics registration', () => {
  test('a shared registry takes two caches under different prefixes; the same prefix twice is a CacheConfigError', async () => {
    const registry = new Registry();
    const one = new Cache({ prefix: 'reg1' });
    const two = new Cache({ prefix: 'reg2' });
    const m1 = cacheMetrics(one, { registry });
    const m2 = cacheMetrics(two, { registry, prefix: 'shop_cache_' });
    await one.getOrLoad('k', () => 1);
    const text = await registry.metrics();
    expect(text).toContain('cachekit_misses_total{namespace="_"} 1');
    expect(text).toContain('shop_cache_misses_total{namespace="_"} 0');
    expect(() => cacheMetrics(two, { registry })).toThrow(CacheConfigError);
    expect(() => cacheMetrics(two, { registry })).toThrow(/cachekit_hits_total.*already registered/);
    // The failed call registered nothing of its own: closing the first frees the names.
    m1.close();
    expect(registry.getSingleMetric('cachekit_hits_total')).toBeUndefined();
    const m3 = cacheMetrics(two, { registry });
    expect(await m3.metrics()).toContain('cachekit_hits_total');
    m2.close();
    m3.close();
    expect(await registry.metrics()).toBe('\n');
    await one.close();
    await two.close();
  });

  test("prom-client's default registry by choice; close() stops the load listener", async () => {
    const cache = new Cache({ prefix: 'regdef' });
    const m = cacheMetrics(cache, { registry: defaultRegistry, prefix: 'ckdef_' });
    try {
      await cache.getOrLoad('k', () => 1);
      expect(await defaultRegistry.metrics()).toContain('ckdef_load_duration_seconds_count{result="ok"} 1');
      const histogram = defaultRegistry.getSingleMetric('ckdef_load_duration_seconds')!;
      m.close();
      expect(defaultRegistry.getSingleMetric('ckdef_hits_total')).toBeUndefined();
      await cache.getOrLoad('k2', () => 2);
      expect(
        (await histogram.get()).values.find((v) => v.labels.result === 'ok' && v.labels.le === '+Inf')?.value,
      ).toBe(1);
    } finally {
      m.close();
      await cache.close();
    }
  });

  test('bad options are CacheConfigErrors naming the option', async () => {
    const cache = new Cache({ prefix: 'regbad' });
    expect(() => cacheMetrics(cache, { prefix: '9lives' })).toThrow(/"prefix"/);
    expect(() => cacheMetrics(cache, { buckets: [1, 0.5] })).toThrow(/"buckets"/);
    expect(() => cacheMetrics(cache, { buckets: [] })).toThrow(CacheConfigError);
    expect(() => cacheMetrics(cache, { ratioWindow: 'soon' })).toThrow(/"ratioWindow"/);
    expect(() => cacheMetrics(cache, { registry: {} as Registry })).toThrow(/"registry"/);
    expect(() => cacheMetrics(cache, { writeBehind: {} as never })).toThrow(/"writeBehind"/);
    await cache.close();
  });
});
