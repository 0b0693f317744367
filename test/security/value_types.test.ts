import { Cacheable, CacheSerializationError, type Cache } from '../../src';
import { openStack, type StackHandle, type StackKind } from '../support/stacks';

/** Values that cannot be cached: the loader's value still reaches the caller, the refusal is typed and counted. */
function unsupported(): [string, () => unknown][] {
  return [
    [
      'a cyclic object',
      () => {
        const o: Record<string, unknown> = { a: 1 };
        o.self = o;
        return o;
      },
    ],
    [
      'a cyclic array',
      () => {
        const a: unknown[] = [1];
        a.push({ back: a });
        return a;
      },
    ],
    ['a function', () => () => 1],
    ['an object holding a method', () => ({ f() {} })],
    ['a symbol', () => Symbol('s')],
    ['an object holding a symbol value', () => ({ s: Symbol('x') })],
    ['a Promise inside', () => ({ p: Promise.resolve(1) })],
    ['a WeakMap', () => new WeakMap()],
  ];
}

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
  get sum(): number {
    return this.x + this.y;
  }
}

describe.each<StackKind>(['memory', 'l1+redis', 'redis', 'keyv'])('hostile values (%s)', (kind) => {
  let stack: StackHandle;
  beforeAll(async () => {
    stack = await openStack(kind, 'values');
  });
  afterAll(() => stack.cleanup());

  /** A reader with no L1 of its own, so the value comes through L2 (the writer itself on memory). */
  function l2Reader(writer: Cache): Cache {
    return stack.hasL2 ? stack.makeCache({ l1: false }) : writer;
  }

  test.each(unsupported())(
    '%s is returned to the caller, not cached, reported as a CacheSerializationError and counted',
    async (_, make) => {
      const cache = stack.makeCache();
      const errors: unknown[] = [];
      cache.on('error', (e) => errors.push(e.error));
      const value = make();
      const before = cache.stats().serializationErrors;
      expect(await cache.getOrLoad('v', async () => value)).toBe(value);
      expect(await cache.getEntry('v')).toBeUndefined();
      expect(await l2Reader(cache).getEntry('v')).toBeUndefined();
      expect(cache.stats().serializationErrors).toBe(before + 1);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(CacheSerializationError);
      // set says so too, without throwing.
      expect(await cache.set('w', make())).toBe(false);
    },
  );

  test('a decorated method whose result cannot be cached still returns it, every time', async () => {
    const cache = stack.makeCache();
    cache.on('error', () => {});
    let runs = 0;
    class Graph {
      cache = cache;
      @Cacheable()
      async node(id: number) {
        runs++;
        const n: Record<string, unknown> = { id };
        n.self = n;
        return n;
      }
    }
    const g = new Graph();
    const a = await g.node(1);
    const b = await g.node(1);
    expect(a.self).toBe(a);
    expect(b.self).toBe(b);
    expect(runs).toBe(2);
  });

  test('BigInt, NaN, ±Infinity, undefined, invalid Dates, Map, Set and Buffer come back as they went in', async () => {
    const cache = stack.makeCache();
    const values: unknown[] = [
      10n ** 40n,
      -7n,
      NaN,
      Infinity,
      -Infinity,
      undefined,
      { nested: [NaN, -Infinity, 2n ** 70n, undefined] },
      new Map<unknown, unknown>([[1n, new Set([NaN])]]),
      Buffer.from([0, 255, 1]),
    ];
    for (const [i, v] of values.entries()) await cache.set(`v${i}`, v);
    for (const reader of [cache, l2Reader(cache)]) {
      for (const [i, v] of values.entries()) {
        const hit = await reader.getEntry(`v${i}`);
        expect(hit).toBeDefined();
        expect(hit!.value).toEqual(v);
      }
      const bad = await reader.get<Date>('bad-date');
      expect(bad).toBeUndefined();
    }
    await cache.set('bad-date', new Date(NaN));
    for (const reader of [cache, l2Reader(cache)]) {
      const d = await reader.get<Date>('bad-date');
      expect(d).toBeInstanceOf(Date);
      expect(Number.isNaN(d!.getTime())).toBe(true);
    }
  });

  test('what JSON loses is documented: -0, holes, class prototypes and symbol keys', async () => {
    const cache = stack.makeCache();
    const sym = Symbol('k');
    // eslint-disable-next-line no-sparse-arrays
    await cache.set('sparse', [1, , 3]);
    await cache.set('negzero', -0);
    await cache.set('point', new Point(1, 2));
    await cache.set('symkey', { a: 1, [sym]: 2 });
    const fromL2 = l2Reader(cache);
    if (stack.hasL1) {
      // L1 holds a copy of the value itself: -0 stays -0 and an instance keeps its class.
      expect(Object.is(await cache.get('negzero'), -0)).toBe(true);
      const p = await cache.get<Point>('point');
      expect(p).toBeInstanceOf(Point);
      expect(p!.sum).toBe(3);
    }
    if (stack.hasL2) {
      // Through L2: -0 is 0, an instance is a plain object of its own enumerable fields.
      expect(Object.is(await fromL2.get('negzero'), 0)).toBe(true);
      const p = await fromL2.get<Point>('point');
      expect(p).toEqual({ x: 1, y: 2 });
      expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    }
    for (const reader of [cache, fromL2]) {
      const sparse = await reader.get<unknown[]>('sparse');
      expect(sparse).toHaveLength(3);
      expect([sparse![0], sparse![2]]).toEqual([1, 3]);
      // A hole comes back as an undefined element.
      expect(1 in sparse!).toBe(true);
      expect(sparse![1]).toBeUndefined();
      const s = await reader.get<Record<PropertyKey, unknown>>('symkey');
      expect(s!.a).toBe(1);
      expect(Object.getOwnPropertySymbols(s)).toHaveLength(0);
    }
  });

  test('a value over maxEntryBytes is returned, not cached, and counted in stats().oversize', async () => {
    const cache = stack.makeCache({ maxEntryBytes: 1000 });
    const big = { text: 'x'.repeat(5000) };
    const before = cache.stats().oversize;
    expect(await cache.getOrLoad('big', async () => big)).toBe(big);
    expect(await cache.getEntry('big')).toBeUndefined();
    expect(await l2Reader(cache).getEntry('big')).toBeUndefined();
    expect(cache.stats().oversize).toBe(before + 1);
    expect(await cache.set('big2', big)).toBe(false);
    expect(cache.stats().oversize).toBe(before + 2);
    // Just under the limit is cached.
    expect(await cache.set('small', { text: 'x'.repeat(500) })).toBe(true);
  });

  test('a decorated method over maxEntryBytes still returns its result, loading each time', async () => {
    const cache = stack.makeCache({ maxEntryBytes: 1000 });
    let runs = 0;
    class Reports {
      cache = cache;
      @Cacheable()
      async big(n: number) {
        runs++;
        return 'y'.repeat(n);
      }
    }
    const r = new Reports();
    expect(await r.big(4000)).toHaveLength(4000);
    expect(await r.big(4000)).toHaveLength(4000);
    expect(runs).toBe(2);
    expect(cache.stats().oversize).toBe(2);
  });
});
