import { Cache, CacheConfigError, type CacheEventMap } from '../../src';
import { RedisStore } from '../../src/redis';
import { CircuitBreaker, type CircuitState } from '../../src/resilience/circuit_breaker';
import { type PrivateRedis, sleep, startPrivateRedis } from '../support/services';

describe('CircuitBreaker (fake clock)', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  test('opens after N failures in the window, lets one probe through after the cooldown, closes on success', () => {
    const states: CircuitState[] = [];
    const b = new CircuitBreaker({ failureThreshold: 3, window: '10s', cooldown: '5s' }, (s) =>
      states.push(s),
    );
    b.failure();
    b.failure();
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    jest.advanceTimersByTime(5000);
    expect(b.allow()).toBe(true); // the probe
    expect(b.allow()).toBe(false); // only one at a time
    b.success();
    expect(b.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  test('a failed probe re-opens it for another cooldown; failures spread beyond the window do not open it', () => {
    const b = new CircuitBreaker({ failureThreshold: 2, window: '1s', cooldown: '2s' }, () => {});
    b.failure();
    jest.advanceTimersByTime(1500);
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    jest.advanceTimersByTime(2000);
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.state).toBe('open');
    jest.advanceTimersByTime(1999);
    expect(b.allow()).toBe(false);
    expect(b.opens).toBe(2);
  });

  test('bad settings are CacheConfigErrors naming the option', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 }, () => {})).toThrow(CacheConfigError);
    expect(() => new CircuitBreaker({ cooldown: 'later' }, () => {})).toThrow(/l2\.circuitBreaker\.cooldown/);
  });
});

/** A steady load of getOrLoad calls; records failures and latencies until stopped. */
function steadyLoad(cache: Cache, value: () => string, tags: string[]) {
  const latencies: number[] = [];
  const seen: { at: number; value: string }[] = [];
  let failures = 0;
  let running = true;
  const worker = async (w: number) => {
    while (running) {
      const t0 = performance.now();
      try {
        const v = await cache.getOrLoad(`item:${w % 3}`, async () => value(), { ttl: '1h', tags });
        seen.push({ at: Date.now(), value: v });
      } catch {
        failures++;
      }
      latencies.push(performance.now() - t0);
      await sleep(5);
    }
  };
  const done = Promise.all([0, 1, 2, 3, 4].map(worker));
  return {
    latencies,
    seen,
    get failures() {
      return failures;
    },
    async stop() {
      running = false;
      await done;
    },
  };
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length * 0.99)] ?? 0;
}

describe.each(['kill', 'hang'] as const)('Redis outage (%s) under steady load', (mode) => {
  let server: PrivateRedis;
  afterEach(async () => {
    await server?.stop();
  });

  test('0 failed calls, latency within the timeout budget, recovery, and no read of an entry invalidated during the outage', async () => {
    server = await startPrivateRedis();
    const store = new RedisStore({
      url: server.url,
      redis: {
        retryStrategy: () => 50,
        connectTimeout: 200,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
      },
    });
    const cache = new Cache({
      prefix: `outage-${mode}`,
      l2: {
        store,
        timeout: 100,
        writeTimeout: 200,
        circuitBreaker: { failureThreshold: 3, window: '5s', cooldown: 300 },
        l1TtlWhileDown: 200,
      },
    });
    const states: string[] = [];
    cache.on('circuit', (e) => states.push(e.state));
    const errors: CacheEventMap['error'][] = [];
    cache.on('error', (e) => errors.push(e));
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown) => unhandled.push(r);
    process.on('unhandledRejection', onUnhandled);

    let db = 'v1';
    const load = steadyLoad(cache, () => db, ['items']);
    try {
      await sleep(300);
      if (mode === 'kill') await server.stop();
      else server.signal('SIGSTOP');
      await sleep(400);
      // A write during the outage: the DB changes and its invalidation cannot reach Redis.
      db = 'v2';
      await cache.invalidateTags(['items']);
      const invalidatedAt = Date.now();
      expect(cache.stats().l2.pendingInvalidations).toBe(1);
      await sleep(600);
      if (mode === 'kill') server = await startPrivateRedis([], server.port);
      else server.signal('SIGCONT');
      await sleep(1500);
      await load.stop();

      expect(load.failures).toBe(0);
      expect(unhandled).toEqual([]);
      // Budget: one read timeout + one write timeout + scheduling slack; never a hang.
      expect(p99(load.latencies)).toBeLessThan(100 + 200 + 200);
      expect(states).toContain('open');
      expect(states[states.length - 1]).toBe('closed');
      expect(cache.stats().l2.circuit).toBe('closed');
      expect(cache.stats().l2.skipped).toBeGreaterThan(0);
      // The queued invalidation reached Redis; nothing invalidated was read after it.
      expect(cache.stats().l2.pendingInvalidations).toBe(0);
      const staleAfter = load.seen.filter((s) => s.at > invalidatedAt && s.value === 'v1');
      expect(staleAfter).toEqual([]);
      // Recovery: L2 serves again (a fresh cache with no L1 reads what the loaders stored).
      const reader = new Cache({
        prefix: `outage-${mode}`,
        l1: false,
        l2: new RedisStore({ url: server.url }),
      });
      let loads = 0;
      expect(await reader.getOrLoad('item:0', async () => (loads++, 'reloaded'), { tags: ['items'] })).toBe(
        'v2',
      );
      expect(loads).toBe(0);
      await reader.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await load.stop();
      await cache.close();
    }
  }, 30_000);
});

describe('corrupted L2 data', () => {
  test('garbage bytes under a cache key read as a miss, counted and reported, never thrown', async () => {
    const server = await startPrivateRedis();
    const store = new RedisStore({ url: server.url });
    try {
      const cache = new Cache({ prefix: 'garbage', l1: false, l2: store });
      await cache.set('k', { ok: true });
      await store.client.set('garbage:_:k', Buffer.from([0xff, 0x00, 0x13, 0x37]));
      const errors: CacheEventMap['error'][] = [];
      cache.on('error', (e) => errors.push(e));
      expect(await cache.getOrLoad('k', () => 'reloaded')).toBe('reloaded');
      expect(cache.stats().l2.misses).toBeGreaterThan(0);
      // A header that looks right over a payload that is not: a serialization error, a miss.
      await store.client.set('garbage:_:k2', 'ck2\x1f0\x1f0\x1fjson\x1f\x1f\n{not json');
      expect(await cache.getOrLoad('k2', () => 'reloaded2')).toBe('reloaded2');
      expect(cache.stats().serializationErrors).toBe(1);
      expect(errors.length).toBeGreaterThan(0);
      await cache.close();
    } finally {
      await server.stop();
    }
  });
});
