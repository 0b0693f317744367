import { types } from 'node:util';
import { Cache, CacheReadonlyError } from '../../src';
import { jsonSerializer, msgpackSerializer } from '../../src/engine/serializer';
import { copierFor } from '../../src/engine/shape_copier';
import { freezeDates, isReadonlyDate } from '../../src/engine/readonly_date';

/*
 * Dates in default-mode L1 hits are shared between hits and read-only (readonly_date.ts): the
 * other parts of the value are still copied per hit.
 */

const at = () => new Date(Date.UTC(2025, 1, 2, 3, 4, 5, 6));

describe('read-only Dates in L1 hits', () => {
  let cache: Cache;
  beforeEach(() => {
    cache = new Cache({ prefix: 'rod' });
  });
  afterEach(() => cache.close());

  test('every setter throws a CacheReadonlyError naming the method; getters and conversions work', async () => {
    await cache.getOrLoad('k', () => ({ at: at() }));
    const { at: d } = await cache.getOrLoad('k', () => ({ at: new Date(0) }));
    expect(isReadonlyDate(d)).toBe(true);
    const setters = Object.getOwnPropertyNames(Date.prototype).filter((m) => m.startsWith('set'));
    expect(setters.length).toBeGreaterThanOrEqual(15);
    for (const m of setters) {
      let thrown: unknown;
      try {
        (d as unknown as Record<string, (x: number) => void>)[m](1);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(CacheReadonlyError);
      expect((thrown as CacheReadonlyError).method).toBe(m);
      expect((thrown as Error).message).toContain(`Date#${m}`);
    }
    expect(d.getTime()).toBe(at().getTime());
    expect(d.toISOString()).toBe('2025-02-02T03:04:05.006Z');
    expect(types.isDate(d)).toBe(true);
    expect(Object.prototype.toString.call(d)).toBe('[object Date]');
    expect(structuredClone(d)).toEqual(at());
    expect(new Date(d).getTime()).toBe(at().getTime());
    expect(d > new Date(0)).toBe(true);
    expect(Object.keys(d)).toEqual([]);
  });

  test('the rest of the value is still a private copy per hit', async () => {
    type V = { at: Date; list: number[]; nested: { n: number } };
    const other = (): V => ({ at: new Date(0), list: [], nested: { n: 0 } });
    await cache.getOrLoad<V>('k', () => ({ at: at(), list: [1, 2], nested: { n: 1 } }));
    const a = await cache.getOrLoad('k', other);
    a.list.push(3);
    a.nested.n = 2;
    a.at = new Date(0); // replacing the Date is fine; only changing it in place is not
    const b = await cache.getOrLoad('k', other);
    expect(b).toEqual({ at: at(), list: [1, 2], nested: { n: 1 } });
  });

  test('Dates in arrays, class instances, Maps and Sets are read-only too', async () => {
    class Row {
      constructor(
        public id: number,
        public when: Date,
      ) {}
    }
    const value = {
      rows: [new Row(1, at()), new Row(2, at())],
      byId: new Map([[1, at()]]),
      set: new Set([at()]),
    };
    await cache.getOrLoad('k', () => value);
    const hit = await cache.getOrLoad('k', () => value);
    expect(hit.rows[0]).toBeInstanceOf(Row);
    expect(isReadonlyDate(hit.rows[1].when)).toBe(true);
    expect(isReadonlyDate(hit.byId.get(1))).toBe(true);
    expect(isReadonlyDate([...hit.set][0])).toBe(true);
    expect(() => hit.rows[0].when.setTime(0)).toThrow(CacheReadonlyError);
  });

  test('l1.copyDates gives each hit its own mutable Date', async () => {
    const copying = new Cache({ prefix: 'rod-copy', l1: { copyDates: true } });
    try {
      await copying.getOrLoad('k', () => ({ at: at() }));
      const a = await copying.getOrLoad('k', () => ({ at: new Date(0) }));
      const b = await copying.getOrLoad('k', () => ({ at: new Date(0) }));
      expect(a.at).not.toBe(b.at);
      expect(isReadonlyDate(a.at)).toBe(false);
      a.at.setUTCFullYear(1990);
      expect((await copying.getOrLoad('k', () => ({ at: new Date(0) }))).at).toEqual(at());
    } finally {
      await copying.close();
    }
  });

  test('shared mode leaves Dates as they are', async () => {
    const sharing = new Cache({ prefix: 'rod-shared', l1: { shared: true } });
    try {
      await sharing.getOrLoad('k', () => ({ at: at() }));
      const a = await sharing.getOrLoad('k', () => ({ at: new Date(0) }));
      expect(isReadonlyDate(a.at)).toBe(false);
    } finally {
      await sharing.close();
    }
  });

  test('a value holding read-only Dates serializes, through JSON and msgpack, back to ordinary Dates', async () => {
    await cache.getOrLoad('src', () => ({ at: at() }));
    const hit = await cache.getOrLoad('src', () => ({ at: new Date(0) }));
    for (const serializer of [jsonSerializer, msgpackSerializer()]) {
      const back = serializer.decode(serializer.encode(hit)) as { at: Date };
      expect(back).toEqual({ at: at() });
      expect(back.at).toBeInstanceOf(Date);
      expect(isReadonlyDate(back.at)).toBe(false);
    }
  });

  test('freezeDates leaves a Date subclass alone, and the L1 copy still returns a Date for it', async () => {
    class Stamp extends Date {}
    const s = new Stamp(at().getTime());
    freezeDates({ s });
    expect(isReadonlyDate(s)).toBe(false);
    await cache.getOrLoad('sub', () => ({ s: new Stamp(at().getTime()) }));
    const hit = await cache.getOrLoad('sub', () => ({ s: new Stamp(0) }));
    expect(hit.s).toBeInstanceOf(Date);
    expect(hit.s.getTime()).toBe(at().getTime());
    // A copier compiled for a shape with a Date subclass copies it as a Date (not as an empty object).
    const copied = copierFor({ s })({ s }) as { s: Date };
    expect(copied.s).toBeInstanceOf(Date);
    expect(copied.s.getTime()).toBe(at().getTime());
  });
});
