import { Cache, CachePut, Cacheable, CacheTimeoutError } from '../../src';

/** The freshness, timeout and lock options reach the engine from the decorators. */
describe('decorator freshness options (fake clock)', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  test('@Cacheable({ grace }) serves the last result past its TTL while the method re-runs behind it', async () => {
    let runs = 0;
    let release: (() => void) | undefined;
    class Prices {
      cache = new Cache();
      @Cacheable({ ttl: 1000, grace: 60_000 })
      async price(id: number) {
        runs++;
        if (runs > 1) await new Promise<void>((r) => (release = r));
        return { id, run: runs };
      }
    }
    const p = new Prices();
    expect(await p.price(1)).toEqual({ id: 1, run: 1 });
    jest.advanceTimersByTime(1500);
    expect(await p.price(1)).toEqual({ id: 1, run: 1 });
    expect(runs).toBe(2);
    release!();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(await p.price(1)).toEqual({ id: 1, run: 2 });
    expect(p.cache.stats().freshness.staleServed).toBe(1);
  });

  test('@Cacheable({ timeouts: { hard } }) rejects a slow call with CacheTimeoutError', async () => {
    class Slow {
      cache = new Cache();
      @Cacheable({ timeouts: { hard: 100 } })
      async value() {
        await new Promise((r) => setTimeout(r, 1000));
        return 1;
      }
    }
    const s = new Slow();
    const out = s.value().catch((e: unknown) => e);
    jest.advanceTimersByTime(100);
    expect(await out).toBeInstanceOf(CacheTimeoutError);
  });

  test('@CachePut({ grace }) stores an entry that getOrLoad serves from grace', async () => {
    const cache = new Cache();
    class Writer {
      cache = cache;
      @CachePut({ key: () => 'put-key', ttl: 1000, grace: 10_000 })
      async write() {
        return 'stored';
      }
    }
    await new Writer().write();
    jest.advanceTimersByTime(1500);
    let loads = 0;
    expect(await cache.getOrLoad('put-key', () => (loads++, 'fresh'), { ttl: 1000, grace: 10_000 })).toBe(
      'stored',
    );
    expect(loads).toBe(1);
  });
});
