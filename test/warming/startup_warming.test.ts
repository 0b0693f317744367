import 'reflect-metadata';
import Redis from 'ioredis';
import {
  Cache,
  Cacheable,
  CacheConfigError,
  CacheWarmError,
  type WarmContext,
  type WarmingEventMap,
  warmMethod,
} from '../../src';
import { cacheOptionsFromConfig, loadConfig } from '../../src/config';
import { RedisStore } from '../../src/redis';
import { deletePrefix, REDIS_URL, requireRedis, uniquePrefix } from '../support/services';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

class Catalog {
  loads: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  gate: Promise<void> | undefined;
  constructor(readonly cache: Cache) {}

  @Cacheable({ ttl: '1h', policy: 'products' })
  async product(id: number): Promise<{ id: number }> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await (this.gate ?? new Promise((r) => setImmediate(r)));
      if (id === 13) throw new Error('product 13 is cursed');
      this.loads.push(id);
      return { id };
    } finally {
      this.inFlight--;
    }
  }

  async notCached(id: number): Promise<number> {
    return id;
  }
}

/** A terminal stand-in: collects what a progress bar writes. */
function tty() {
  const out: string[] = [];
  return { isTTY: true, columns: 200, write: (s: string) => void out.push(s), out };
}

describe('startup warming', () => {
  test('warms with a concurrency bound and reports progress as events, per warmer', async () => {
    const cache = new Cache({ policies: { products: { ttl: '1h' } } });
    const catalog = new Catalog(cache);
    const progress: WarmingEventMap['progress'][] = [];
    const finished: string[] = [];
    cache.warming.on('progress', (e) => progress.push(e));
    cache.warming.on('warmer', (e) => finished.push(`${e.name} ${e.done}/${e.total}`));
    const ids = Array.from({ length: 40 }, (_, i) => [i + 100] as [number]);

    const report = await cache.warm(
      [
        warmMethod(catalog, 'product', ids, { name: 'popular products' }),
        async function settings(ctx: WarmContext) {
          ctx.total(3);
          for (const k of ['a', 'b', 'c']) {
            await ctx.cache.set(`settings:${k}`, k);
            ctx.advance();
          }
        },
      ],
      { concurrency: 3 },
    );

    expect(report).toEqual(expect.objectContaining({ ok: true, cancelled: false, reason: 'manual' }));
    expect(report.warmers.map((w) => [w.name, w.done, w.total, w.failed])).toEqual([
      ['popular products', 40, 40, 0],
      ['settings', 3, 3, 0],
    ]);
    expect(catalog.loads.sort()).toEqual(ids.map(([id]) => id).sort());
    expect(catalog.maxInFlight).toBeLessThanOrEqual(3);
    expect(catalog.maxInFlight).toBeGreaterThan(1);
    // Every entry is now a hit.
    await catalog.product(100);
    expect(catalog.loads).toHaveLength(40);
    expect(await cache.get('settings:b')).toBe('b');

    const products = progress.filter((e) => e.warmer === 'popular products');
    expect(products[0]).toEqual(expect.objectContaining({ done: 0, total: 40 }));
    expect(products.at(-1)).toEqual(expect.objectContaining({ done: 40, total: 40 }));
    expect(products.map((e) => e.done)).toEqual([...products.map((e) => e.done)].sort((a, b) => a - b));
    expect(progress.filter((e) => e.warmer === 'settings').map((e) => `${e.done}/${e.total}`)).toEqual(
      expect.arrayContaining(['1/3', '2/3', '3/3']),
    );
    expect(finished.sort()).toEqual(['popular products 40/40', 'settings 3/3']);
    expect(cache.stats().warming).toEqual(
      expect.objectContaining({ runs: 1, running: 0, warmed: 43, failures: 0 }),
    );
    await cache.close();
  });

  test('a failing warmer and a failing call are reported without stopping the others', async () => {
    const cache = new Cache({ policies: { products: {} } });
    const catalog = new Catalog(cache);
    const errors: unknown[] = [];
    cache.on('error', (e) => errors.push(e.error));
    const report = await cache.warm(
      [
        { name: 'broken', run: () => Promise.reject(new Error('database is down')) },
        warmMethod(catalog, 'product', [[12], [13], [14]], { name: 'some products' }),
        {
          name: 'args fail',
          target: catalog,
          method: 'product',
          args: () => Promise.reject(new Error('no ids')),
        },
        async function fine() {
          await cache.set('fine', true);
        },
      ],
      { concurrency: 1 },
    );
    expect(report.ok).toBe(false);
    expect(report.cancelled).toBe(false);
    const byName = Object.fromEntries(report.warmers.map((w) => [w.name, w]));
    expect(byName.broken).toEqual(expect.objectContaining({ ok: false, failed: 1 }));
    expect(byName.broken.error?.message).toBe('database is down');
    expect(byName['some products']).toEqual(
      expect.objectContaining({ ok: false, total: 3, done: 3, failed: 1 }),
    );
    expect(byName['args fail']).toEqual(expect.objectContaining({ ok: false, total: 0 }));
    expect(byName.fine).toEqual(expect.objectContaining({ ok: true, done: 1, total: 1 }));
    expect(catalog.loads).toEqual([12, 14]);
    expect(await cache.get('fine')).toBe(true);
    expect(errors).toHaveLength(3);
    expect(errors.every((e) => e instanceof CacheWarmError)).toBe(true);
    expect((errors as CacheWarmError[]).map((e) => e.warmer).sort()).toEqual([
      'args fail',
      'broken',
      'some products',
    ]);
    expect((errors as CacheWarmError[]).find((e) => e.warmer === 'some products')?.message).toContain(
      '1 of 3 calls',
    );
    expect(cache.stats().warming.failures).toBe(3);
    await cache.close();
  });

  test('startup may go ahead while warming continues: calls are served meanwhile, and the run finishes later', async () => {
    const cache = new Cache({ policies: { products: {} } });
    const catalog = new Catalog(cache);
    const gate = deferred();
    catalog.gate = gate.promise;
    const warming = cache.warm([warmMethod(catalog, 'product', [[1], [2]], { name: 'slow' })]);
    let settled = false;
    void warming.then(() => (settled = true));
    // The application serves while the warmers wait.
    expect(await cache.getOrLoad('other', () => 'served')).toBe('served');
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(cache.stats().warming.running).toBe(1);
    gate.resolve();
    const report = await warming;
    expect(report.ok).toBe(true);
    expect(cache.stats().warming.running).toBe(0);
    await cache.close();
  });

  test('close() stops a run between calls and reports it cancelled', async () => {
    const cache = new Cache({ policies: { products: {} } });
    const catalog = new Catalog(cache);
    const gate = deferred();
    catalog.gate = gate.promise;
    const run = cache.warm([warmMethod(catalog, 'product', [[1], [2], [3], [4]], { name: 'slow' })], {
      concurrency: 1,
    });
    await new Promise((r) => setImmediate(r));
    const closed = cache.close();
    gate.resolve();
    const report = await run;
    await closed;
    expect(report.cancelled).toBe(true);
    expect(report.ok).toBe(false);
    expect(report.warmers[0]).toEqual(expect.objectContaining({ total: 4, done: 1 }));
    expect(await cache.warm([async function late() {}])).toEqual(
      expect.objectContaining({ cancelled: true, warmers: [] }),
    );
  });

  test('draws a progress bar on a TTY, and nothing on a stream that is not one', async () => {
    const cache = new Cache({ policies: { products: {} } });
    const catalog = new Catalog(cache);
    const term = tty();
    await cache.warm([warmMethod(catalog, 'product', [[1], [2], [3], [4]], { name: 'popular products' })], {
      progress: term,
      concurrency: 1,
    });
    const text = term.out.join('');
    expect(text).toContain('\rwarming 0/4 popular products [--------------------] 0%');
    expect(text).toContain('\rwarming 4/4 popular products [####################] 100%');
    expect(text).toMatch(new RegExp(String.raw`\rwarmed 4/4 popular products in \d+ ms\u001b\[K\n`));

    const pipe = { isTTY: false, write: jest.fn() };
    await cache.warm([warmMethod(catalog, 'product', [[5]])], { progress: pipe });
    expect(pipe.write).not.toHaveBeenCalled();
    await cache.close();
  });

  test('warm_on_startup from the config file decides what cache.warm() runs', async () => {
    const config = loadConfig(
      `
cache:
  type: memory
  policies:
    products:
      ttl: 1h
      warm_on_startup: true
    reports:
      ttl: 10m
`,
    );
    const cache = new Cache(cacheOptionsFromConfig(config));
    const catalog = new Catalog(cache);
    const ran: string[] = [];
    cache.warming.add(
      // Policy "products" comes from the decorator: warm_on_startup applies.
      warmMethod(catalog, 'product', [[7], [8]], { name: 'popular products' }),
      { name: 'monthly report', policy: 'reports', run: () => void ran.push('monthly report') },
      { name: 'banner', onStartup: true, run: () => void ran.push('banner') },
      { name: 'opted out', policy: 'products', onStartup: false, run: () => void ran.push('opted out') },
    );
    const report = await cache.warm();
    expect(report.reason).toBe('startup');
    expect(report.warmers.map((w) => w.name).sort()).toEqual(['banner', 'popular products']);
    expect(catalog.loads).toEqual([7, 8]);
    expect(ran).toEqual(['banner']);
    expect(cache.stats().warming.registered).toBe(4);
    await cache.close();
  });

  test('bad warmers are refused with a CacheConfigError at once', () => {
    const cache = new Cache({ policies: { products: {} } });
    const catalog = new Catalog(cache);
    const bad: [unknown, RegExp][] = [
      [() => {}, /needs a name/],
      [42, /expected a warmer/],
      [{ target: catalog, method: 'notCached', args: [[1]] }, /not a @Cacheable method/],
      [{ target: catalog, method: 'product', args: [1, 2] }, /warmers\[0\]\.args\[0\]/],
      [{ name: 'x', run: () => {}, policy: 'nope' }, /no such policy; known: products/],
      [{ name: 'x', run: () => {}, every: '5m', cron: '* * * * *' }, /either every or cron/],
      [{ name: 'x', run: () => {}, cron: '61 * * * *' }, /not a valid cron expression/],
      [{ name: 'replay', run: () => {} }, /name of replay warming/],
    ];
    for (const [w, message] of bad) {
      let err: unknown;
      try {
        cache.warm([w as never]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CacheConfigError);
      expect((err as Error).message).toMatch(message);
    }
    expect(() => cache.warm([], { concurrency: 0 })).toThrow(CacheConfigError);
    expect(() => new Cache({ warming: { replayTop: 10, heatCapacity: 5 } })).toThrow(/at least replayTop/);
    expect(() => new Cache({ policies: { p: { warmSchedule: 'every day' } } })).toThrow(
      /policies\.p\.warmSchedule/,
    );
    cache.warming.add({ name: 'once', run: () => {} });
    expect(() => cache.warming.add({ name: 'once', run: () => {} })).toThrow(/already registered/);
  });

  test('a refresh warmer reloads entries that are already cached, through L2', async () => {
    await requireRedis();
    const prefix = uniquePrefix('warm-refresh');
    const client = new Redis(REDIS_URL);
    const cache = new Cache({ prefix, l2: new RedisStore({ client }), policies: { products: {} } });
    const other = new Cache({ prefix, l2: new RedisStore({ client }), policies: { products: {} } });
    try {
      const catalog = new Catalog(cache);
      await catalog.product(1);
      await cache.warm([warmMethod(catalog, 'product', [[1]])]);
      expect(catalog.loads).toEqual([1]); // fill mode: cached, left alone
      await cache.warm([warmMethod(catalog, 'product', [[1]], { refresh: true })]);
      expect(catalog.loads).toEqual([1, 1]);
      // Another process sees the refreshed entry in L2 without loading.
      const reader = new Catalog(other);
      await reader.product(1);
      expect(reader.loads).toEqual([]);
    } finally {
      await cache.close();
      await other.close();
      await deletePrefix(client, prefix);
      await client.quit();
    }
  });
});
