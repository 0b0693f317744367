import 'reflect-metadata';
import { Cache, Cacheable, type WarmContext, warmMethod } from '../../src';
import { cacheOptionsFromConfig, loadConfig } from '../../src/config';

class Trending {
  loads: number[] = [];
  constructor(readonly cache: Cache) {}
  @Cacheable({ ttl: '1h', policy: 'trending' })
  async top(n: number): Promise<number[]> {
    this.loads.push(n);
    return Array.from({ length: n }, (_, i) => i);
  }
}

/** Lets the promise chains a timer callback started run to completion (fake timers do not advance them). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('scheduled warming (fake clock)', () => {
  beforeEach(() => {
    // Five seconds before a five-minute boundary, in any time zone (all offsets are multiples of 5 min).
    jest.useFakeTimers({ now: new Date('2030-01-01T00:04:55.000Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  test('a cron schedule fires its warmer at the matching minute, again at the next, and close() stops it', async () => {
    const cache = new Cache();
    const fired: { at: string; reason: string }[] = [];
    cache.warming.add({
      name: 'trending',
      cron: '*/5 * * * *',
      run: (ctx: WarmContext) => void fired.push({ at: new Date().toISOString(), reason: ctx.reason }),
    });
    const [schedule] = cache.stats().warming.schedules;
    expect(schedule).toEqual(
      expect.objectContaining({ name: 'trending', cron: '*/5 * * * *', runs: 0, running: false }),
    );
    expect(new Date(schedule.nextRunAt!).toISOString()).toBe('2030-01-01T00:05:00.000Z');

    await jest.advanceTimersByTimeAsync(4_000);
    expect(fired).toEqual([]);
    await jest.advanceTimersByTimeAsync(1_500);
    await settle();
    expect(fired).toEqual([{ at: '2030-01-01T00:05:00.000Z', reason: 'schedule' }]);

    await jest.advanceTimersByTimeAsync(5 * 60_000);
    await settle();
    expect(fired.map((f) => f.at)).toEqual(['2030-01-01T00:05:00.000Z', '2030-01-01T00:10:00.000Z']);
    expect(cache.stats().warming.schedules[0]).toEqual(expect.objectContaining({ runs: 2, failures: 0 }));
    expect(cache.stats().warming.runs).toBe(2);

    await cache.close();
    await jest.advanceTimersByTimeAsync(60 * 60_000);
    await settle();
    expect(fired).toHaveLength(2);
  });

  test('warm_schedule from the config file schedules the policy’s warmers, which really fill the cache', async () => {
    const config = loadConfig(`
cache:
  policies:
    trending:
      ttl: 1h
      warm_schedule: "*/5 * * * *"
`);
    const cache = new Cache(cacheOptionsFromConfig(config));
    const trending = new Trending(cache);
    // Refresh: an hourly entry is reloaded on every firing, not only once it expired.
    cache.warming.add(warmMethod(trending, 'top', [[3], [10]], { name: 'trending lists', refresh: true }));
    expect(cache.stats().warming.schedules.map((s) => s.name)).toEqual(['policy:trending']);

    await jest.advanceTimersByTimeAsync(6_000);
    await settle();
    expect(trending.loads).toEqual([3, 10]);
    // Filled: a caller now hits.
    expect(await trending.top(10)).toHaveLength(10);
    expect(trending.loads).toEqual([3, 10]);

    await jest.advanceTimersByTimeAsync(5 * 60_000);
    await settle();
    expect(trending.loads).toEqual([3, 10, 3, 10]);
    await cache.close();
  });

  test('an interval schedule skips a firing while the previous run is still going', async () => {
    const cache = new Cache();
    let release!: () => void;
    let runs = 0;
    const skipped: string[] = [];
    cache.warming.on('skipped', (e) => skipped.push(e.schedule));
    cache.warming.add({
      name: 'slow',
      every: '1m',
      run: () => {
        runs++;
        return new Promise<void>((r) => (release = r));
      },
    });
    await jest.advanceTimersByTimeAsync(60_000);
    await settle();
    expect(runs).toBe(1);
    await jest.advanceTimersByTimeAsync(2 * 60_000); // two firings during the run
    await settle();
    expect(runs).toBe(1);
    expect(skipped).toEqual(['slow', 'slow']);
    expect(cache.stats().warming.schedules[0]).toEqual(
      expect.objectContaining({ every: 60_000, runs: 1, skipped: 2, running: true }),
    );
    release();
    await settle();
    await jest.advanceTimersByTimeAsync(60_000);
    await settle();
    expect(runs).toBe(2);
    release();
    await cache.close();
  });

  test('a failing scheduled run is counted and the schedule keeps firing', async () => {
    const cache = new Cache();
    let calls = 0;
    cache.on('error', () => {});
    cache.warming.add({
      name: 'flaky',
      every: '30s',
      run: () => {
        calls++;
        if (calls === 1) throw new Error('first one fails');
      },
    });
    await jest.advanceTimersByTimeAsync(30_000);
    await settle();
    await jest.advanceTimersByTimeAsync(30_000);
    await settle();
    expect(calls).toBe(2);
    expect(cache.stats().warming.schedules[0]).toEqual(expect.objectContaining({ runs: 2, failures: 1 }));
    await cache.close();
  });
});
