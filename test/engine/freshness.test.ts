import { Cache, CacheConfigError, CacheTimeoutError, type CacheError } from '../../src';
import {
  decodeFreshness,
  encodeFreshness,
  entryFreshness,
  wantsEarlyRefresh,
} from '../../src/engine/freshness';
import { openStack, type StackHandle } from '../support/stacks';

/** A loader whose calls are counted and whose results the test releases by hand. */
function controlledLoader<T>() {
  const pending: { resolve(v: T): void; reject(e: unknown): void }[] = [];
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    load: () =>
      new Promise<T>((resolve, reject) => {
        calls++;
        pending.push({ resolve, reject });
      }),
    resolveNext(v: T) {
      pending.shift()!.resolve(v);
    },
    rejectNext(e: unknown) {
      pending.shift()!.reject(e);
    },
  };
}

/** Lets promise callbacks run without moving the fake clock. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('freshness on a memory cache (fake clock)', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  test('grace: past its TTL a value is served at once while one background refresh runs', async () => {
    const cache = new Cache();
    const opts = { ttl: 1000, grace: 5000 };
    await cache.getOrLoad('k', () => 'v1', opts);
    jest.advanceTimersByTime(1500);
    const l = controlledLoader<string>();
    // Three callers in grace: all get v1 at once, and the loader runs once.
    const got = await Promise.all([1, 2, 3].map(() => cache.getOrLoad('k', l.load, opts)));
    expect(got).toEqual(['v1', 'v1', 'v1']);
    expect(l.calls).toBe(1);
    l.resolveNext('v2');
    await settle();
    expect(await cache.getOrLoad('k', l.load, opts)).toBe('v2');
    expect(l.calls).toBe(1);
    const s = cache.stats().freshness;
    expect(s.staleServed).toBe(3);
    expect(s.refreshes).toBe(1);
  });

  test('grace: a failing refresh keeps the stale value, is reported, and backs off before the next try', async () => {
    const cache = new Cache();
    const errors: CacheError[] = [];
    cache.on('error', (e) => errors.push(e.error));
    const opts = { ttl: 1000, grace: 60_000, graceBackoff: 5000 };
    await cache.getOrLoad('k', () => 'v1', opts);
    jest.advanceTimersByTime(1500);
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(new Error('db down'));
    };
    expect(await cache.getOrLoad('k', failing, opts)).toBe('v1');
    await settle();
    expect(calls).toBe(1);
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('db down')]);
    // Within the backoff: still v1, no new try.
    jest.advanceTimersByTime(4000);
    expect(await cache.getOrLoad('k', failing, opts)).toBe('v1');
    await settle();
    expect(calls).toBe(1);
    // After it: one more try, and the stale value is still served.
    jest.advanceTimersByTime(1500);
    expect(await cache.getOrLoad('k', failing, opts)).toBe('v1');
    await settle();
    expect(calls).toBe(2);
    expect(cache.stats().freshness.refreshErrors).toBe(2);
  });

  test('grace runs out: past TTL + grace the caller waits for the loader', async () => {
    const cache = new Cache();
    const opts = { ttl: 1000, grace: 2000 };
    await cache.getOrLoad('k', () => 'v1', opts);
    jest.advanceTimersByTime(3001);
    expect(await cache.getOrLoad('k', () => 'v2', opts)).toBe('v2');
    expect(cache.stats().freshness.staleServed).toBe(0);
  });

  test('get() never returns a value past its TTL, even within grace', async () => {
    const cache = new Cache();
    await cache.getOrLoad('k', () => 'v1', { ttl: 1000, grace: 5000 });
    expect(await cache.get('k')).toBe('v1');
    jest.advanceTimersByTime(1500);
    expect(await cache.get('k')).toBeUndefined();
  });

  test('an invalidated entry is never served stale by default, even within grace', async () => {
    const cache = new Cache();
    const opts = { ttl: 1000, grace: 60_000, tags: ['t'] };
    await cache.getOrLoad('k', () => 'v1', opts);
    await cache.invalidateTags(['t']);
    const l = controlledLoader<string>();
    const p = cache.getOrLoad('k', l.load, opts);
    await settle();
    l.resolveNext('v2');
    expect(await p).toBe('v2');
  });

  test('graceOnInvalidate: an invalidated entry is served while it reloads, then replaced', async () => {
    const cache = new Cache();
    const opts = { ttl: 10_000, grace: 60_000, graceOnInvalidate: true, tags: ['t'] };
    await cache.getOrLoad('k', () => 'v1', opts);
    await cache.invalidateTags(['t']);
    const l = controlledLoader<string>();
    expect(await cache.getOrLoad('k', l.load, opts)).toBe('v1');
    expect(l.calls).toBe(1);
    l.resolveNext('v2');
    await settle();
    expect(await cache.getOrLoad('k', l.load, opts)).toBe('v2');
    expect(l.calls).toBe(1);
  });

  test('soft timeout: a stale value is returned once the refresh takes longer; a quick refresh is awaited', async () => {
    const cache = new Cache();
    const opts = { ttl: 1000, grace: 60_000, timeouts: { soft: 100 } };
    await cache.getOrLoad('k', () => 'v1', opts);
    jest.advanceTimersByTime(1500);
    const slow = controlledLoader<string>();
    let out: string | undefined;
    void cache.getOrLoad('k', slow.load, opts).then((v) => (out = v));
    await settle();
    expect(out).toBeUndefined(); // waiting for the refresh, up to the soft timeout
    jest.advanceTimersByTime(100);
    await settle();
    expect(out).toBe('v1');
    slow.resolveNext('v2');
    await settle();
    // A quick refresh: the caller gets the new value, not the stale one.
    jest.advanceTimersByTime(1500);
    const quick = controlledLoader<string>();
    const p = cache.getOrLoad('k', quick.load, opts);
    await settle();
    jest.advanceTimersByTime(50);
    quick.resolveNext('v3');
    expect(await p).toBe('v3');
  });

  test('hard timeout: the caller gets a CacheTimeoutError, and the late result is still cached', async () => {
    const cache = new Cache();
    const opts = { timeouts: { hard: 200 } };
    const l = controlledLoader<string>();
    const p = cache.getOrLoad('k', l.load, opts);
    const caught = p.catch((e: unknown) => e);
    jest.advanceTimersByTime(200);
    const err = await caught;
    expect(err).toBeInstanceOf(CacheTimeoutError);
    expect((err as CacheTimeoutError).key).toContain('k');
    expect(cache.stats().loadTimeouts).toBe(1);
    l.resolveNext('late');
    await settle();
    expect(await cache.getOrLoad('k', l.load, opts)).toBe('late');
    expect(l.calls).toBe(1);
  });

  test('refresh-ahead: a hit in the last fraction of the TTL refreshes in the background', async () => {
    const cache = new Cache();
    const opts = { ttl: 1000, refreshAhead: 0.2 };
    await cache.getOrLoad('k', () => 'v1', opts);
    const l = controlledLoader<string>();
    jest.advanceTimersByTime(700);
    expect(await cache.getOrLoad('k', l.load, opts)).toBe('v1');
    expect(l.calls).toBe(0);
    jest.advanceTimersByTime(150); // 850 ms: less than 20% left
    expect(await cache.getOrLoad('k', l.load, opts)).toBe('v1');
    expect(l.calls).toBe(1);
    l.resolveNext('v2');
    await settle();
    // The refreshed entry has a whole new TTL: at 1.5 s it is still a hit.
    jest.advanceTimersByTime(650);
    expect(await cache.getOrLoad('k', l.load, opts)).toBe('v2');
    expect(l.calls).toBe(1);
    expect(cache.stats().freshness.earlyRefreshes).toBe(1);
  });

  test('XFetch: a hit far from expiry with a tiny beta never refreshes; close to it with a large one does', async () => {
    const cache = new Cache();
    await cache.getOrLoad('far', () => 1, { ttl: 100_000, earlyRefresh: 0.001 });
    let calls = 0;
    for (let i = 0; i < 200; i++)
      await cache.getOrLoad('far', () => ++calls, { ttl: 100_000, earlyRefresh: 0.001 });
    expect(calls).toBe(0);
    await cache.getOrLoad('near', () => 1, { ttl: 1000, earlyRefresh: 1e6 });
    jest.advanceTimersByTime(990);
    await cache.getOrLoad('near', () => ++calls, { ttl: 1000, earlyRefresh: 1e6 });
    await settle();
    expect(calls).toBe(1);
  });

  test('adaptive TTL: a hot key is kept longer than a cold one, between min and max', async () => {
    const cache = new Cache();
    const opts = { adaptiveTtl: { min: '1s', max: '100s', hitsForMax: 20 } };
    await cache.getOrLoad('cold', () => 'c', opts);
    await cache.getOrLoad('hot', () => 'h1', opts);
    for (let i = 0; i < 40; i++) await cache.getOrLoad('hot', () => 'never', opts);
    // Reload both: the hot key's TTL now reflects its reads.
    await cache.delete('hot');
    await cache.getOrLoad('hot', () => 'h2', opts);
    jest.advanceTimersByTime(1001);
    let loads = 0;
    expect(await cache.getOrLoad('cold', () => (loads++, 'c2'), opts)).toBe('c2');
    expect(await cache.getOrLoad('hot', () => (loads++, 'h3'), opts)).toBe('h2');
    expect(loads).toBe(1);
    // Never beyond max.
    jest.advanceTimersByTime(100_000);
    expect(await cache.getOrLoad('hot', () => (loads++, 'h4'), opts)).toBe('h4');
  });

  test('bad freshness options are CacheConfigErrors that name the option', () => {
    const cases: [object, string][] = [
      [{ grace: '5m', sliding: true }, 'grace'],
      [{ refreshAhead: 1.5 }, 'refreshAhead'],
      [{ earlyRefresh: -1 }, 'earlyRefresh'],
      [{ timeouts: { soft: '2s', hard: '1s' } }, 'timeouts.soft'],
      [{ lock: { onTimeout: 'maybe' } }, 'lock.onTimeout'],
      [{ adaptiveTtl: { min: '10s', max: '1s' } }, 'adaptiveTtl.max'],
      [{ grace: 'soon' }, 'grace'],
    ];
    for (const [opts, option] of cases) {
      let err: unknown;
      try {
        new Cache(opts);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CacheConfigError);
      expect((err as CacheConfigError).option).toBe(option);
    }
  });
});

describe('XFetch probability', () => {
  test('the early-refresh rate matches exp(-remaining / (beta · delta)) over many trials', () => {
    const trials = 20_000;
    for (const [beta, delta, remaining] of [
      [1, 100, 50],
      [1, 100, 200],
      [2, 50, 100],
      [0.5, 200, 30],
    ]) {
      const f = entryFreshness(
        { grace: 0, backoff: 0, graceOnInvalidate: false, refreshAhead: 0, beta, adaptive: undefined },
        0,
        1_000_000,
        delta,
      );
      const now = f.freshUntil - remaining;
      let early = 0;
      for (let i = 0; i < trials; i++) if (wantsEarlyRefresh(f, now)) early++;
      const expected = Math.exp(-remaining / (beta * delta));
      // 4 standard deviations of a binomial proportion.
      const sd = Math.sqrt((expected * (1 - expected)) / trials);
      expect(Math.abs(early / trials - expected)).toBeLessThan(4 * sd + 1e-3);
    }
  });

  test('freshness round-trips through the entry header field', () => {
    const f = {
      freshUntil: 123456,
      refreshAt: Infinity,
      delta: 12,
      beta: 1.5,
      graceOnInvalidate: true,
      adaptive: false,
    };
    expect(decodeFreshness(encodeFreshness(f))).toEqual(f);
    expect(decodeFreshness('garbage')).toBeUndefined();
  });
});

describe.each(['redis', 'l1+redis'] as const)('freshness through L2 (%s, real time)', (kind) => {
  let stack: StackHandle;
  beforeAll(async () => {
    stack = await openStack(kind, 'freshness');
  });
  afterAll(() => stack.cleanup());

  test('another instance finds the entry in grace in L2: served stale, refreshed once for everyone', async () => {
    const a = stack.makeCache();
    const b = stack.makeCache();
    const opts = { ttl: 200, grace: 10_000 };
    await a.getOrLoad('g', () => 'v1', opts);
    await new Promise((r) => setTimeout(r, 300));
    let calls = 0;
    const slow = () => new Promise<string>((r) => setTimeout(() => r(`v${++calls + 1}`), 100));
    expect(await b.getOrLoad('g', slow, opts)).toBe('v1');
    await new Promise((r) => setTimeout(r, 250));
    expect(calls).toBe(1);
    // Instance a: with an L1 it still holds v1 in grace and serves it once more; its own refresh
    // then finds b's fresh entry in L2 instead of loading again.
    const first = await a.getOrLoad('g', slow, opts);
    expect(first).toBe(stack.hasL1 ? 'v1' : 'v2');
    await new Promise((r) => setTimeout(r, 50));
    expect(await a.getOrLoad('g', slow, opts)).toBe('v2');
    expect(await b.getOrLoad('g', slow, opts)).toBe('v2');
    expect(calls).toBe(1);
  });

  test('the L2 copy of a graceful entry lives for TTL + grace', async () => {
    const a = stack.makeCache();
    await a.getOrLoad('life', () => 1, { ttl: 200, grace: 400 });
    await new Promise((r) => setTimeout(r, 350));
    const b = stack.makeCache();
    let calls = 0;
    expect(await b.getOrLoad('life', () => ++calls, { ttl: 200, grace: 400 })).toBe(1); // stale, from L2
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(1);
  });
});
