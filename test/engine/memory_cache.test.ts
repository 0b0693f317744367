import { Cache, CacheConfigError } from '../../src';

/** Memory-only behaviours that need a controllable clock or L1 internals. */
describe('memory cache with fake timers', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  test("duration strings: '1h' holds for 59 minutes and is gone after 61", async () => {
    const cache = new Cache();
    let reads = 0;
    await cache.getOrLoad('k', () => ++reads, { ttl: '1h' });
    jest.advanceTimersByTime(59 * 60_000);
    expect(await cache.getOrLoad('k', () => ++reads, { ttl: '1h' })).toBe(1);
    jest.advanceTimersByTime(2 * 60_000);
    expect(await cache.getOrLoad('k', () => ++reads, { ttl: '1h' })).toBe(2);
  });

  test("the default TTL is 5 minutes and '90s' / '1d' parse", async () => {
    const cache = new Cache();
    await cache.set('default', 1);
    await cache.set('s', 1, { ttl: '90s' });
    await cache.set('d', 1, { ttl: '1d' });
    jest.advanceTimersByTime(89_000);
    expect(await cache.get('s')).toBe(1);
    jest.advanceTimersByTime(2_000);
    expect(await cache.get('s')).toBeUndefined();
    jest.advanceTimersByTime(5 * 60_000 - 91_000 - 1);
    expect(await cache.get('default')).toBe(1);
    jest.advanceTimersByTime(2);
    expect(await cache.get('default')).toBeUndefined();
    jest.advanceTimersByTime(86_400_000 - 5 * 60_000 - 10);
    expect(await cache.get('d')).toBe(1);
    jest.advanceTimersByTime(20);
    expect(await cache.get('d')).toBeUndefined();
  });

  test('a per-type policy table: user_profile 1h, session 30m sliding, inventory 1m', async () => {
    const cache = new Cache({
      policies: {
        user_profile: { ttl: '1h' },
        session: { ttl: '30m', sliding: true },
        inventory: { ttl: '1m' },
      },
    });
    await cache.set('u', 'profile', { policy: 'user_profile' });
    await cache.set('s', 'session', { policy: 'session' });
    await cache.set('i', 7, { policy: 'inventory' });
    // A session read every 20 minutes lives on; inventory is gone after a minute.
    for (let i = 0; i < 3; i++) {
      jest.advanceTimersByTime(20 * 60_000);
      expect(await cache.get('s')).toBe('session');
    }
    expect(await cache.get('i')).toBeUndefined();
    expect(await cache.get('u')).toBeUndefined(); // 60 minutes have passed
    jest.advanceTimersByTime(31 * 60_000);
    expect(await cache.get('s')).toBeUndefined();
  });

  test('jitter spreads expirations within ± the fraction', async () => {
    const cache = new Cache();
    for (let i = 0; i < 200; i++) await cache.set(`k${i}`, i, { ttl: 10_000, jitter: 0.2 });
    const alive = async () => {
      let n = 0;
      for (let i = 0; i < 200; i++) if ((await cache.get(`k${i}`)) !== undefined) n++;
      return n;
    };
    jest.advanceTimersByTime(7_999);
    expect(await alive()).toBe(200);
    jest.advanceTimersByTime(2_001); // t = 10 s: about half are gone
    const mid = await alive();
    expect(mid).toBeGreaterThan(40);
    expect(mid).toBeLessThan(160);
    jest.advanceTimersByTime(2_001);
    expect(await alive()).toBe(0);
  });

  test('negative entries default to at most 30 s', async () => {
    const cache = new Cache({ ttl: '1h' });
    let reads = 0;
    await cache.getOrLoad('missing', () => (reads++, null));
    jest.advanceTimersByTime(29_000);
    await cache.getOrLoad('missing', () => (reads++, null));
    expect(reads).toBe(1);
    jest.advanceTimersByTime(2_000);
    await cache.getOrLoad('missing', () => (reads++, null));
    expect(reads).toBe(2);
  });
});

describe('memory cache bounds and copies', () => {
  test('L1 stays within maxBytes under many large entries, and counts evictions', async () => {
    const cache = new Cache({ l1: { maxBytes: 50_000 } });
    for (let i = 0; i < 500; i++) await cache.set(`big${i}`, { i, body: 'x'.repeat(1000) });
    const s = cache.stats();
    expect(s.l1.bytes).toBeLessThanOrEqual(50_000);
    expect(s.l1.entries).toBeLessThan(60);
    expect(s.l1.evictions).toBeGreaterThan(400);
    // The most recent entries survive.
    expect(await cache.get('big499')).toEqual({ i: 499, body: 'x'.repeat(1000) });
    expect(await cache.get('big0')).toBeUndefined();
  });

  test('L1 stays within maxEntries', async () => {
    const cache = new Cache({ l1: { maxEntries: 10 } });
    for (let i = 0; i < 100; i++) await cache.set(`k${i}`, i);
    expect(cache.stats().l1.entries).toBe(10);
  });

  test('copies by default; shared mode returns the stored object itself', async () => {
    const copying = new Cache();
    const shared = new Cache({ l1: { shared: true } });
    const v = { a: 1 };
    await copying.set('k', v);
    await shared.set('k', v);
    const c1 = await copying.get('k');
    expect(c1).toEqual(v);
    expect(c1).not.toBe(await copying.get('k'));
    const s1 = await shared.get('k');
    expect(s1).toBe(await shared.get('k'));
  });

  test('class instances keep their prototype through L1', async () => {
    class Product {
      constructor(
        public id = 0,
        public price = 0,
      ) {}
      withTax() {
        return this.price * 1.2;
      }
    }
    const cache = new Cache();
    await cache.getOrLoad('p', () => new Product(1, 10));
    const got = await cache.getOrLoad('p', () => new Product(2, 20));
    expect(got).toBeInstanceOf(Product);
    expect(got.withTax()).toBeCloseTo(12);
  });

  test('memory-only invalidation of a namespace does not leak into others', async () => {
    const cache = new Cache();
    const a = cache.namespace('a');
    await a.set('x', 1, { tags: ['t'] });
    await cache.set('x', 2, { tags: ['t'] });
    await a.invalidateTags(['t']);
    expect(await a.get('x')).toBeUndefined();
    expect(await cache.get('x')).toBe(2);
  });

  test('bad construction options are CacheConfigErrors that name the option', () => {
    const cases: [object, string][] = [
      [{ ttl: -1 }, 'ttl'],
      [{ ttl: NaN }, 'ttl'],
      [{ ttl: 'forever' }, 'ttl'],
      [{ negativeTtl: 'x' }, 'negativeTtl'],
      [{ jitter: 1.5 }, 'jitter'],
      [{ l1: { maxBytes: -1 } }, 'l1.maxBytes'],
      [{ l1: { maxEntries: 1.5 } }, 'l1.maxEntries'],
      [{ serializer: 'xml' }, 'serializer'],
      [{ compression: { algorithm: 'zip' } }, 'compression.algorithm'],
      [{ prefix: '' }, 'prefix'],
      [{ l2: {} }, 'l2'],
      [{ l1: false }, 'l1'],
      [{ ttl: '60d' }, 'ttl'],
      [{ policies: { session: { sliding: 'yes' } } }, 'policies.session.sliding'],
    ];
    for (const [opts, option] of cases) {
      let err: unknown;
      try {
        new Cache(opts as never);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CacheConfigError);
      expect((err as CacheConfigError).option).toBe(option);
      expect((err as Error).message).toContain(option);
    }
  });

  test('bad namespace names and tags are rejected', async () => {
    const cache = new Cache();
    expect(() => cache.namespace('a:b')).toThrow(CacheConfigError);
    expect(() => cache.namespace('__x')).toThrow(CacheConfigError);
    await expect(cache.invalidateTags([''])).rejects.toThrow(/tags\[0\]/);
    await expect(cache.getOrLoad('k', () => 1, { tags: ['ok', 3 as never] })).rejects.toThrow(/tags\[1\]/);
    // Tags are stored in an entry's header line: separators and line breaks would corrupt it.
    await expect(cache.invalidateTags(['a\nb'])).rejects.toThrow(CacheConfigError);
    await expect(cache.getOrLoad('k2', () => 1, { tags: ['a\x1fb'] })).rejects.toThrow(/tags\[0\]/);
    await expect(cache.getOrLoad('k3', (ctx) => (ctx.addTags('x\ny'), 1))).rejects.toThrow(/ctx\.addTags/);
    expect(() => new Cache({ prefix: 'a\x1fb' })).toThrow(/prefix/);
    expect(
      () =>
        new Cache({ serializer: { name: 'my\x1fcodec', encode: () => Buffer.alloc(0), decode: () => 0 } }),
    ).toThrow(/serializer/);
  });

  test('after close(), getOrLoad still answers through the loader', async () => {
    const cache = new Cache();
    await cache.set('k', 1);
    await cache.close();
    expect(await cache.getOrLoad('k', () => 2)).toBe(2);
    await expect(cache.invalidateTags(['t'])).rejects.toThrow(/closed/);
  });
});
