import {
  Cache,
  CacheConfigError,
  CacheReadonlyError,
  CacheSerializationError,
  type CacheEventMap,
} from '../../src';
import { sleep } from '../support/services';
import { openStack, type StackHandle, type StackKind } from '../support/stacks';

/** A source of truth a loader reads from, with a way to block a read half-way. */
class Source<T> {
  reads = 0;
  constructor(public value: T) {}
  read(): T {
    this.reads++;
    return this.value;
  }
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The behaviours every stack must share. Each stack file calls this once; time-dependent
 * cases use real time with wide margins because Redis expires keys on its own clock.
 */
export function describeCacheBehaviours(kind: StackKind): void {
  describe(`cache behaviours on ${kind}`, () => {
    let stack: StackHandle;
    let cache: Cache;
    let n = 0;
    const key = () => `k${n++}`;

    beforeAll(async () => {
      stack = await openStack(kind, 'behaviours');
      cache = stack.makeCache();
    });
    afterAll(async () => {
      await stack.cleanup();
    });

    test('getOrLoad runs the loader on a miss and not on a hit', async () => {
      const k = key();
      const src = new Source({ id: 1, name: 'Ada' });
      expect(await cache.getOrLoad(k, () => src.read())).toEqual({ id: 1, name: 'Ada' });
      expect(await cache.getOrLoad(k, () => src.read())).toEqual({ id: 1, name: 'Ada' });
      expect(src.reads).toBe(1);
    });

    test('a caller mutating its result does not change what the next caller gets', async () => {
      const k = key();
      const first = await cache.getOrLoad(k, () => ({ tags: ['a'], n: 1 }));
      first.tags.push('mutated');
      first.n = 99;
      const second = await cache.getOrLoad(k, () => ({ tags: ['never'], n: -1 }));
      expect(second).toEqual({ tags: ['a'], n: 1 });
      second.n = 7;
      expect(await cache.get(k)).toEqual({ tags: ['a'], n: 1 });
    });

    test('a Date in a hit is a real Date; with L1 it is shared by hits and a setter on it is refused', async () => {
      const k = key();
      const at = new Date(Date.UTC(2024, 4, 6, 7, 8, 9));
      const loaded = await cache.getOrLoad(k, () => ({ at }));
      // The caller that ran the loader gets the loader's own value, Dates untouched.
      expect(loaded.at).toBe(at);
      loaded.at.setUTCFullYear(1999);
      const a = await cache.getOrLoad(k, () => ({ at: new Date(0) }));
      const b = await cache.getOrLoad(k, () => ({ at: new Date(0) }));
      expect(a.at).toBeInstanceOf(Date);
      expect(a.at.constructor).toBe(Date);
      expect(a).toStrictEqual({ at: new Date(Date.UTC(2024, 4, 6, 7, 8, 9)) });
      expect(JSON.stringify(b)).toBe('{"at":"2024-05-06T07:08:09.000Z"}');
      if (stack.hasL1) {
        expect(a).not.toBe(b);
        expect(a.at).toBe(b.at);
        expect(() => a.at.setUTCFullYear(2000)).toThrow(CacheReadonlyError);
      } else {
        // Every hit decodes from L2: private Dates that the caller may change.
        expect(a.at).not.toBe(b.at);
        a.at.setUTCFullYear(2000);
      }
      expect((await cache.get<{ at: Date }>(k))!.at.getUTCFullYear()).toBe(2024);
    });

    test('get, set and delete', async () => {
      const k = key();
      expect(await cache.get(k)).toBeUndefined();
      expect(await cache.set(k, { v: 1 })).toBe(true);
      expect(await cache.get(k)).toEqual({ v: 1 });
      await cache.delete(k);
      expect(await cache.get(k)).toBeUndefined();
    });

    test('a cached null is told apart from a miss', async () => {
      const k = key();
      await cache.set(k, null);
      expect(await cache.get(k)).toBeNull();
      expect(await cache.getEntry(k)).toEqual({ value: null, layer: expect.any(String) });
      expect(await cache.getEntry(key())).toBeUndefined();
    });

    test('negative caching: null and undefined results are cached, and can be turned off', async () => {
      const k1 = key();
      const k2 = key();
      const src = new Source<string | null>(null);
      expect(await cache.getOrLoad(k1, () => src.read())).toBeNull();
      expect(await cache.getOrLoad(k1, () => src.read())).toBeNull();
      expect(src.reads).toBe(1);
      let undefReads = 0;
      await cache.getOrLoad(k2, () => (undefReads++, undefined));
      expect(await cache.getOrLoad(k2, () => (undefReads++, undefined))).toBeUndefined();
      expect(undefReads).toBe(1);
      expect(await cache.getEntry(k2)).toEqual({ value: undefined, layer: expect.any(String) });

      const off = key();
      const src2 = new Source<null>(null);
      await cache.getOrLoad(off, () => src2.read(), { negativeTtl: false });
      await cache.getOrLoad(off, () => src2.read(), { negativeTtl: false });
      expect(src2.reads).toBe(2);
    });

    test('negative entries expire on their own shorter TTL', async () => {
      const k = key();
      const src = new Source<number | null>(null);
      await cache.getOrLoad(k, () => src.read(), { ttl: '10s', negativeTtl: 150 });
      await sleep(400);
      src.value = 42;
      expect(await cache.getOrLoad(k, () => src.read(), { ttl: '10s', negativeTtl: 150 })).toBe(42);
      expect(src.reads).toBe(2);
    });

    test('fixed TTL: the entry expires', async () => {
      const k = key();
      const src = new Source('v1');
      await cache.getOrLoad(k, () => src.read(), { ttl: 500 });
      expect(await cache.getOrLoad(k, () => src.read(), { ttl: 500 })).toBe('v1');
      await sleep(900);
      src.value = 'v2';
      expect(await cache.getOrLoad(k, () => src.read(), { ttl: 500 })).toBe('v2');
      expect(src.reads).toBe(2);
    });

    test('sliding TTL: reads keep the entry alive, idleness expires it', async () => {
      const k = key();
      const src = new Source('v1');
      const opts = { ttl: 1000, sliding: true };
      await cache.getOrLoad(k, () => src.read(), opts);
      for (let i = 0; i < 5; i++) {
        await sleep(300);
        expect(await cache.getOrLoad(k, () => src.read(), opts)).toBe('v1');
      }
      expect(src.reads).toBe(1); // 1.5 s after the load, past the 1 s TTL, still cached
      await sleep(1600);
      src.value = 'v2';
      expect(await cache.getOrLoad(k, () => src.read(), opts)).toBe('v2');
    });

    test('the loader can set its own TTL, and a TTL can be a function of the value', async () => {
      const k1 = key();
      const k2 = key();
      let reads = 0;
      await cache.getOrLoad(k1, (ctx) => (ctx.setTtl('150ms'), ++reads), { ttl: '1h' });
      const byValue = (v: { draft: boolean }) => (v.draft ? 150 : '1h');
      await cache.getOrLoad(k2, () => ({ draft: true }), { ttl: byValue });
      await sleep(450);
      await cache.getOrLoad(k1, () => ++reads, { ttl: '1h' });
      expect(reads).toBe(2);
      expect(await cache.get(k2)).toBeUndefined();
    });

    test('invalidateTags drops tagged entries and keeps the others', async () => {
      const a = key();
      const b = key();
      await cache.getOrLoad(a, () => 'a', { tags: ['product:1', 'category:5'] });
      await cache.getOrLoad(b, () => 'b', { tags: ['product:2'] });
      await cache.invalidateTags(['category:5']);
      expect(await cache.get(a)).toBeUndefined();
      expect(await cache.get(b)).toBe('b');
      // Re-loading after the invalidation gives a current entry again.
      await cache.getOrLoad(a, () => 'a2', { tags: ['product:1', 'category:5'] });
      expect(await cache.get(a)).toBe('a2');
    });

    test('tags can be computed from the value, or added by the loader while it runs', async () => {
      const a = key();
      const b = key();
      await cache.getOrLoad(a, () => ({ id: 7 }), { tags: (v) => [`row:${v.id}`] });
      await cache.getOrLoad(b, (ctx) => (ctx.addTags('table:orders'), 'b'));
      await cache.invalidateTags(['row:7', 'table:orders']);
      expect(await cache.get(a)).toBeUndefined();
      expect(await cache.get(b)).toBeUndefined();
    });

    test('stale-set race: a load that read before a write-and-invalidate never becomes a fresh entry', async () => {
      const k = key();
      const db = new Source('v1');
      const gate = deferred();
      const readDone = deferred();
      const slow = cache.getOrLoad(
        k,
        async () => {
          const v = db.read(); // reads "v1"...
          readDone.resolve();
          await gate.promise; // ...and is held up while a writer commits
          return v;
        },
        { tags: ['doc'] },
      );
      await readDone.promise;
      db.value = 'v2';
      await cache.invalidateTags(['doc']);
      gate.resolve();
      expect(await slow).toBe('v1'); // the caller that started before the write gets what it read
      expect(await cache.get(k)).toBeUndefined();
      for (let i = 0; i < 3; i++) {
        expect(await cache.getOrLoad(k, () => db.read(), { tags: ['doc'] })).toBe('v2');
        expect(await cache.get(k)).toBe('v2');
      }
      if (stack.hasL2) {
        const other = stack.makeCache();
        expect(await other.getOrLoad(k, () => db.read(), { tags: ['doc'] })).toBe('v2');
      }
    });

    test('tags learned late by the loader also close the stale-set race', async () => {
      const k = key();
      const db = new Source('v1');
      const gate = deferred();
      const readDone = deferred();
      const slow = cache.getOrLoad(k, async (ctx) => {
        const v = db.read();
        readDone.resolve();
        await gate.promise;
        ctx.addTags('late'); // learned only after the write happened
        return v;
      });
      await readDone.promise;
      db.value = 'v2';
      await cache.invalidateTags(['late']);
      gate.resolve();
      await slow;
      expect(await cache.get(k)).toBeUndefined();
    });

    test('single-flight: 1,000 concurrent callers run the loader once', async () => {
      const k = key();
      let runs = 0;
      const gate = deferred();
      const calls = Array.from({ length: 1000 }, () =>
        cache.getOrLoad(k, async () => {
          runs++;
          await gate.promise;
          return { id: 1, list: [1, 2, 3] };
        }),
      );
      await sleep(20);
      gate.resolve();
      const results = await Promise.all(calls);
      expect(runs).toBe(1);
      for (const r of results) expect(r).toEqual({ id: 1, list: [1, 2, 3] });
      // Each caller has its own copy.
      results[1].list.push(4);
      expect(results[2].list).toEqual([1, 2, 3]);
    });

    test('a loader that throws rejects every waiter and caches nothing', async () => {
      const k = key();
      let runs = 0;
      const boom = async () => {
        runs++;
        await sleep(10);
        throw new Error('db down');
      };
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => cache.getOrLoad(k, boom)));
      expect(runs).toBe(1);
      expect(results.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'db down')).toBe(
        true,
      );
      expect(await cache.get(k)).toBeUndefined();
      expect(await cache.getOrLoad(k, () => 'ok')).toBe('ok');
    });

    test('values keep their types through every tier', async () => {
      const k = key();
      const value = {
        at: new Date('2024-05-06T07:08:09.010Z'),
        big: 2n ** 70n,
        map: new Map<string, unknown>([['a', { nested: new Set([1, 2]) }]]),
        set: new Set(['x', 'y']),
        buf: Buffer.from([0, 1, 2, 255]),
        list: [1, 'two', null, { three: 3 }],
      };
      await cache.set(k, value);
      const fresh = stack.hasL2 ? stack.makeCache() : cache; // from L2 where there is one
      const got = (await fresh.get<typeof value>(k))!;
      expect(got.at).toBeInstanceOf(Date);
      expect(got.at.getTime()).toBe(value.at.getTime());
      expect(got.big).toBe(2n ** 70n);
      expect(got.map).toBeInstanceOf(Map);
      expect((got.map.get('a') as { nested: Set<number> }).nested).toEqual(new Set([1, 2]));
      expect(got.set).toEqual(new Set(['x', 'y']));
      expect(Buffer.isBuffer(got.buf)).toBe(true);
      expect([...got.buf]).toEqual([0, 1, 2, 255]);
      expect(got.list).toEqual([1, 'two', null, { three: 3 }]);
    });

    test('a value that cannot be serialized is returned, reported and not cached', async () => {
      const k = key();
      const errors: CacheEventMap['error'][] = [];
      const onError = (e: CacheEventMap['error']) => errors.push(e);
      cache.on('error', onError);
      try {
        const cyclic: Record<string, unknown> = { id: 1 };
        cyclic.self = cyclic;
        const withFn = { id: 2, cb: () => 1 };
        expect(await cache.getOrLoad(k, () => cyclic)).toBe(cyclic);
        expect(await cache.getOrLoad(`${k}f`, () => withFn)).toBe(withFn);
        expect(await cache.get(k)).toBeUndefined();
        expect(await cache.get(`${k}f`)).toBeUndefined();
        expect(errors).toHaveLength(2);
        for (const e of errors) expect(e.error).toBeInstanceOf(CacheSerializationError);
        expect(errors[1].error.message).toContain('cb');
        expect((errors[1].error as CacheSerializationError).key).toContain(`${k}f`);
      } finally {
        cache.off('error', onError);
      }
    });

    test('a value above maxEntryBytes is returned but not cached, and counted', async () => {
      const small = stack.makeCache({ maxEntryBytes: 1000 });
      const k = key();
      const before = small.stats().oversize;
      let runs = 0;
      const big = () => (runs++, 'x'.repeat(5000));
      expect(await small.getOrLoad(k, big)).toHaveLength(5000);
      expect(await small.getOrLoad(k, big)).toHaveLength(5000);
      expect(runs).toBe(2);
      expect(small.stats().oversize - before).toBe(2);
    });

    test('set() of a value it cannot cache drops the previous entry instead of serving it', async () => {
      const small = stack.makeCache({ maxEntryBytes: 1000 });
      const circular: Record<string, unknown> = { name: 'loop' };
      circular.self = circular;
      const onError = () => {};
      small.on('error', onError);
      try {
        for (const replacement of ['x'.repeat(5000), circular, 'zero-ttl']) {
          const k = key();
          expect(await small.set(k, 'v1')).toBe(true);
          // A fresh instance (nothing in its L1) reads L2: the old value is there...
          if (stack.hasL2) expect(await stack.makeCache().get(k)).toBe('v1');
          const ttl = replacement === 'zero-ttl' ? { ttl: () => 0 } : undefined;
          expect(await small.set(k, replacement, ttl)).toBe(false);
          expect(await small.get(k)).toBeUndefined();
          // ...and gone once it was replaced by a value that could not be cached.
          if (stack.hasL2) expect(await stack.makeCache().get(k)).toBeUndefined();
        }
      } finally {
        small.off('error', onError);
      }
    });

    test('namespaces keep keys and tags apart, and clear() empties only its own', async () => {
      const users = cache.namespace('users');
      const orders = cache.namespace('orders');
      const k = key();
      await users.set(k, 'user');
      await orders.set(k, 'order', { tags: ['t'] });
      await users.set(`${k}t`, 'user-tagged', { tags: ['t'] });
      expect(await users.get(k)).toBe('user');
      expect(await orders.get(k)).toBe('order');
      expect(await cache.get(k)).toBeUndefined();

      await users.invalidateTags(['t']);
      expect(await users.get(`${k}t`)).toBeUndefined();
      expect(await orders.get(k)).toBe('order');

      await users.clear();
      expect(await users.get(k)).toBeUndefined();
      expect(await orders.get(k)).toBe('order');
      await users.set(k, 'again');
      expect(await users.get(k)).toBe('again');
    });

    test('clear() on a parent empties its child namespaces', async () => {
      const parent = cache.namespace(`p${n++}`);
      const child = parent.namespace('child');
      const k = key();
      await child.set(k, 'c');
      await parent.set(k, 'p');
      await parent.clear();
      expect(await child.get(k)).toBeUndefined();
      expect(await parent.get(k)).toBeUndefined();
    });

    test('named policies supply TTL and tags; call options override them', async () => {
      const c = stack.makeCache({
        policies: { inventory: { ttl: 150, tags: ['inventory'] }, profile: { ttl: '1h' } },
      });
      const a = key();
      const b = key();
      let reads = 0;
      await c.getOrLoad(a, () => ++reads, { policy: 'inventory' });
      await c.getOrLoad(b, () => 'p', { policy: 'profile' });
      await c.invalidateTags(['inventory']);
      await c.getOrLoad(a, () => ++reads, { policy: 'inventory' });
      expect(reads).toBe(2);
      await sleep(450);
      expect(await c.get(a)).toBeUndefined();
      expect(await c.get(b)).toBe('p');
      await expect(c.getOrLoad(key(), () => 1, { policy: 'nope' })).rejects.toThrow(CacheConfigError);
    });

    test('long keys are hashed, stay distinct, and still work', async () => {
      const long1 = 'q:' + 'a'.repeat(2000) + '1';
      const long2 = 'q:' + 'a'.repeat(2000) + '2';
      await cache.set(long1, 1);
      await cache.set(long2, 2);
      expect(await cache.get(long1)).toBe(1);
      expect(await cache.get(long2)).toBe(2);
    });

    test('invalid options are typed errors naming the option', async () => {
      await expect(cache.getOrLoad(key(), () => 1, { ttl: -5 })).rejects.toMatchObject({
        name: 'CacheConfigError',
        option: 'ttl',
      });
      await expect(cache.getOrLoad(key(), () => 1, { ttl: 'soon' })).rejects.toThrow(/"ttl"/);
      await expect(cache.getOrLoad(key(), () => 1, { ttl: NaN })).rejects.toThrow(CacheConfigError);
      await expect(cache.getOrLoad('', () => 1)).rejects.toMatchObject({ name: 'CacheKeyError' });
      expect(() => stack.makeCache({ ttl: '-1m' })).toThrow(CacheConfigError);
      expect(() => stack.makeCache({ policies: { p: { ttl: 'abc' } } })).toThrow(/policies\.p\.ttl/);
    });

    test('stats count hits, misses and loads', async () => {
      const c = stack.makeCache();
      const k = key();
      await c.getOrLoad(k, () => 1);
      await c.getOrLoad(k, () => 1);
      await c.getOrLoad(k, () => 1);
      const s = c.stats();
      // stats are per stack object; this cache is fresh
      expect(s.misses).toBe(1);
      expect(s.hits).toBe(2);
      expect(s.loads).toBe(1);
      expect(s.hitRatio).toBeCloseTo(2 / 3);
      expect(s.sets).toBe(1);
      expect(s.loadTime.count).toBe(1);
      if (stack.hasL1) {
        expect(s.l1.hits).toBe(2);
        expect(s.l1.entries).toBe(1);
        expect(s.l1.bytes).toBeGreaterThan(0);
      } else expect(s.l2.hits).toBe(2);
    });

    test('stats count lookups per namespace and layer; tenants count in their namespace', async () => {
      const c = stack.makeCache({ tenancy: { required: false } });
      const orders = c.tenant('acme').namespace('orders');
      await orders.getOrLoad('a', () => 1);
      await orders.getOrLoad('a', () => 1);
      await c
        .tenant('acme')
        .namespace('orders')
        .namespace('archive')
        .getOrLoad('a', () => 2);
      expect(await c.tenant('bcme').get('nothing')).toBeUndefined();
      // A tenant of a namespace counts in that namespace too.
      expect(await c.namespace('orders').tenant('zeta').get('a')).toBeUndefined();
      const l1 = stack.hasL1 ? 1 : 0;
      const l2 = stack.hasL2 ? 1 : 0;
      const s = c.stats().namespaces;
      expect(Object.keys(s).sort()).toEqual(['_', 'orders', 'orders.archive']);
      // Two misses and a hit: the hit comes from L1 when there is one, else from L2.
      expect(s.orders).toEqual({
        hits: 1,
        misses: 2,
        l1: { hits: l1, misses: 2 * l1 },
        l2: { hits: 1 - l1, misses: 2 * l2 },
      });
      expect(s['orders.archive']).toEqual({
        hits: 0,
        misses: 1,
        l1: { hits: 0, misses: l1 },
        l2: { hits: 0, misses: l2 },
      });
      expect(s._).toEqual({ hits: 0, misses: 1, l1: { hits: 0, misses: l1 }, l2: { hits: 0, misses: l2 } });
      if (stack.hasL1 && stack.hasL2) {
        // Another instance has its own L1: it finds the entry in L2.
        const other = stack.makeCache({ tenancy: { required: false } });
        await other
          .tenant('acme')
          .namespace('orders')
          .getOrLoad('a', () => 3);
        expect(other.stats().namespaces.orders).toEqual({
          hits: 1,
          misses: 0,
          l1: { hits: 0, misses: 1 },
          l2: { hits: 1, misses: 0 },
        });
      }
    });

    test('namespace counts are bounded: past 100 names the rest share ~other', async () => {
      const c = stack.makeCache();
      for (let i = 0; i < 120; i++) await c.namespace(`n${i}`).get('k');
      const s = c.stats().namespaces;
      expect(Object.keys(s)).toHaveLength(101);
      expect(s.n0.misses).toBe(1);
      expect(s['~other'].misses).toBe(120 - 99);
    });

    test('load events carry the loader time and whether it threw', async () => {
      const c = stack.makeCache();
      const seen: CacheEventMap['load'][] = [];
      c.on('load', (e) => seen.push(e));
      const k = key();
      await c.getOrLoad(k, async () => {
        await sleep(20);
        return 1;
      });
      await c.getOrLoad(k, () => 2);
      await expect(
        c.getOrLoad(key(), () => {
          throw new Error('db down');
        }),
      ).rejects.toThrow('db down');
      expect(seen.map((e) => e.ok)).toEqual([true, false]);
      expect(seen[0].key).toContain(k);
      expect(seen[0].ms).toBeGreaterThanOrEqual(15);
    });

    test('events: miss, set, hit, invalidate, delete', async () => {
      const c = stack.makeCache();
      const seen: string[] = [];
      c.on('miss', () => seen.push('miss'));
      c.on('set', () => seen.push('set'));
      c.on('hit', (e) => seen.push(`hit:${e.layer}`));
      c.on('invalidate', (e) => seen.push(`invalidate:${e.tags.join(',')}`));
      c.on('delete', () => seen.push('delete'));
      const k = key();
      await c.getOrLoad(k, () => 1);
      await c.getOrLoad(k, () => 1);
      await c.invalidateTags(['x']);
      await c.delete(k);
      expect(seen).toEqual(['miss', 'set', `hit:${stack.hasL1 ? 'l1' : 'l2'}`, 'invalidate:x', 'delete']);
    });

    if (kind !== 'memory') {
      test('a second instance reads what the first stored, and sees its invalidations', async () => {
        const k = key();
        let reads = 0;
        await cache.getOrLoad(k, () => ++reads, { tags: ['shared'] });
        const other = stack.makeCache();
        expect(await other.getOrLoad(k, () => ++reads, { tags: ['shared'] })).toBe(1);
        await cache.invalidateTags(['shared']);
        // A fresh instance (an L1 that never held the entry) reads through L2 and sees the
        // invalidation; instances whose L1 holds it learn of it over the bus (not in this suite).
        const third = stack.makeCache();
        expect(await third.getOrLoad(k, () => ++reads, { tags: ['shared'] })).toBe(2);
        if (!stack.hasL1) expect(await other.getOrLoad(k, () => ++reads, { tags: ['shared'] })).toBe(2);
      });
    }
  });
}
