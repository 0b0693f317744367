import { CacheError } from '../../src/errors';
import { cloneValue } from '../../src/engine/clone';

class Dimensions {
  width = 1;
  area(): number {
    return this.width * this.width;
  }
}

class Product {
  static constructed = 0;
  id = 0;
  name = 'desk';
  createdAt = new Date(1_700_000_000_000);
  tags = ['a', 'b'];
  dimensions = new Dimensions();
  constructor() {
    Product.constructed++;
  }
  label(): string {
    return `${this.id}:${this.name}`;
  }
}

function bytesOf(bytes: number[]): ArrayBuffer {
  const ab = new ArrayBuffer(bytes.length);
  const view = new DataView(ab);
  bytes.forEach((b, i) => view.setUint8(i, b));
  return ab;
}

describe('cloneValue', () => {
  test.each<[string, unknown]>([
    ['string', 'x'],
    ['number', 1.5],
    ['bigint', 10n],
    ['boolean', true],
    ['undefined', undefined],
    ['null', null],
  ])('returns a %s as is', (_label, v) => {
    expect(cloneValue(v)).toBe(v);
  });

  test('functions are returned as is (values in L1 have none; nothing to copy)', () => {
    const f = () => 1;
    expect(cloneValue(f)).toBe(f);
  });

  test('plain objects and arrays are deep copies: equal, but no shared object', () => {
    const v = { a: { b: [1, { c: 2 }] }, d: [[3]], e: null, f: undefined };
    const c = cloneValue(v);
    expect(c).toStrictEqual(v);
    expect(c).not.toBe(v);
    expect(c.a).not.toBe(v.a);
    expect(c.a.b).not.toBe(v.a.b);
    expect(c.a.b[1]).not.toBe(v.a.b[1]);
    expect(c.d[0]).not.toBe(v.d[0]);
    expect(Object.keys(c)).toEqual(['a', 'd', 'e', 'f']);
  });

  test('mutating the copy does not touch the original, at any depth', () => {
    const original = {
      list: [{ qty: 1 }],
      at: new Date(0),
      byId: new Map([[1, { name: 'a' }]]),
      ids: new Set([1]),
      bytes: Buffer.from('abc'),
      floats: new Float32Array([1, 2]),
    };
    const copy = cloneValue(original);
    copy.list[0].qty = 99;
    copy.list.push({ qty: 2 });
    copy.at.setTime(12345);
    copy.byId.get(1)!.name = 'changed';
    copy.byId.set(2, { name: 'b' });
    copy.ids.add(2);
    copy.bytes[0] = 0x7a;
    copy.floats[0] = 42;
    expect(original).toStrictEqual({
      list: [{ qty: 1 }],
      at: new Date(0),
      byId: new Map([[1, { name: 'a' }]]),
      ids: new Set([1]),
      bytes: Buffer.from('abc'),
      floats: new Float32Array([1, 2]),
    });
  });

  test('Date, Map, Set, Buffer, typed arrays, DataView and ArrayBuffer keep their class', () => {
    const v = {
      d: new Date(5),
      m: new Map<unknown, unknown>([[{ k: 1 }, new Set([1])]]),
      s: new Set([{ x: 1 }]),
      b: Buffer.from([1, 2]),
      u: new Uint8Array([3]),
      f: new Float64Array([1.5]),
      // ArrayBuffers made here rather than taken from a Uint8Array: Jest lends tests its host's
      // Uint8Array, whose buffers belong to another realm than this file's ArrayBuffer.
      dv: new DataView(bytesOf([7, 8])),
      ab: bytesOf([9]),
    };
    const c = cloneValue(v);
    expect(c).toStrictEqual(v);
    expect(c.d).toBeInstanceOf(Date);
    // Kept out of `v`: Jest's equality never finds two invalid Dates equal.
    const invalid = cloneValue(new Date(NaN));
    expect(invalid).toBeInstanceOf(Date);
    expect(Number.isNaN(invalid.getTime())).toBe(true);
    expect(Buffer.isBuffer(c.b)).toBe(true);
    expect(Buffer.isBuffer(c.u)).toBe(false);
    expect(c.f).toBeInstanceOf(Float64Array);
    expect(c.dv.getUint8(1)).toBe(8);
    expect(c.dv.buffer).not.toBe(v.dv.buffer);
    expect(c.ab).not.toBe(v.ab);
    expect(new Uint8Array(c.ab)[0]).toBe(9);
    const [[key, value]] = [...c.m];
    expect(key).toEqual({ k: 1 });
    expect(key).not.toBe([...v.m.keys()][0]);
    expect(value).not.toBe([...v.m.values()][0]);
    expect([...c.s][0]).not.toBe([...v.s][0]);
  });

  test('a Buffer that is a view into a larger one is copied, not aliased', () => {
    const big = Buffer.from('hello world');
    const view = big.subarray(6);
    const c = cloneValue(view);
    big.write('J', 6);
    c.write('W');
    expect(c.toString()).toBe('World');
    expect(big.toString()).toBe('hello Jorld');
  });

  test('class instances keep their prototype, without running the constructor', () => {
    const p = new Product();
    p.id = 7;
    const before = Product.constructed;
    const c = cloneValue(p);
    expect(Product.constructed).toBe(before);
    expect(c).toBeInstanceOf(Product);
    expect(c.label()).toBe('7:desk');
    expect(c.dimensions).toBeInstanceOf(Dimensions);
    expect(c.dimensions.area()).toBe(1);
    expect(c.dimensions).not.toBe(p.dimensions);
    expect(c.createdAt).not.toBe(p.createdAt);
    expect(c).toStrictEqual(p);
  });

  test('only own enumerable properties are copied; inherited ones stay on the prototype', () => {
    const proto = { inherited: 1 };
    const o = Object.create(proto);
    o.own = 2;
    Object.defineProperty(o, 'hidden', { value: 3, enumerable: false });
    const c = cloneValue(o);
    expect(Object.getPrototypeOf(c)).toBe(proto);
    expect(Object.keys(c)).toEqual(['own']);
    expect(c.inherited).toBe(1);
    expect(Object.prototype.hasOwnProperty.call(c, 'inherited')).toBe(false);
    expect(c.hidden).toBeUndefined();
  });

  test('null-prototype objects stay null-prototype', () => {
    const o = Object.assign(Object.create(null), { a: 1 });
    const c = cloneValue(o);
    expect(Object.getPrototypeOf(c)).toBeNull();
    expect(c.a).toBe(1);
  });

  test('an own __proto__ key is copied as a property, never as the prototype', () => {
    const o = JSON.parse('{"__proto__":{"polluted":true},"a":1}');
    const c = cloneValue(o);
    expect(Object.getPrototypeOf(c)).toBe(Object.prototype);
    expect(c.polluted).toBeUndefined();
    expect(({} as any).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(c, '__proto__')?.value).toEqual({ polluted: true });
    expect(Object.getOwnPropertyDescriptor(c, '__proto__')?.value).not.toBe(o['__proto__']);

    const inst = new Product();
    Object.defineProperty(inst, '__proto__', {
      value: { polluted: true },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    const ci = cloneValue(inst);
    expect(Object.getPrototypeOf(ci)).toBe(Product.prototype);
    expect(ci.label()).toBe('0:desk');
    expect(Object.getOwnPropertyDescriptor(ci, '__proto__')?.value).toEqual({ polluted: true });
  });

  test('shared references are copied per place (no identity is kept)', () => {
    const shared = { n: 1 };
    const c = cloneValue({ a: shared, b: shared });
    expect(c.a).toEqual(shared);
    expect(c.a).not.toBe(c.b);
  });

  test('a cycle throws a CacheError instead of looping', () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    expect(() => cloneValue(o)).toThrow(CacheError);
    expect(() => cloneValue(o)).toThrow(/circular or nested too deeply/);
  });

  test('sparse arrays come back with undefined in the holes', () => {
    // eslint-disable-next-line no-sparse-arrays
    const c = cloneValue([1, , 3]);
    expect(c).toHaveLength(3);
    expect(c[1]).toBeUndefined();
  });
});
