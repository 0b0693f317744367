import { Packr } from 'msgpackr';
import { runInThisContext } from 'node:vm';
import { CacheSerializationError } from '../../src/errors';
import { jsonSerializer, msgpackSerializer, type Serializer } from '../../src/engine/serializer';

function roundTrip(s: Serializer, value: unknown): unknown {
  const bytes = s.encode(value);
  expect(Buffer.isBuffer(bytes)).toBe(true);
  return s.decode(bytes);
}

function encodeError(s: Serializer, value: unknown): CacheSerializationError {
  try {
    s.encode(value);
  } catch (err) {
    expect(err).toBeInstanceOf(CacheSerializationError);
    return err as CacheSerializationError;
  }
  throw new Error('expected a CacheSerializationError');
}

const serializers: [string, Serializer][] = [
  ['json', jsonSerializer],
  ['msgpack', msgpackSerializer()],
  ['msgpack float32', msgpackSerializer({ float32: true })],
];

const roundTrips: [string, unknown][] = [
  ['Date', new Date('2024-02-29T12:34:56.789Z')],
  ['Date before 1970', new Date(-86_400_123)],
  ['small BigInt', 42n],
  ['negative BigInt', -9_007_199_254_740_993n],
  ['BigInt beyond 2^64', 2n ** 64n + 1n],
  ['negative BigInt beyond 2^64', -(2n ** 200n) - 7n],
  [
    'Map with nested values and non-string keys',
    new Map<unknown, unknown>([
      ['a', { at: new Date(0), ids: new Set([1, 2]) }],
      [1, [1n, undefined, null]],
      [{ composite: true }, new Map([['inner', Buffer.from('x')]])],
    ]),
  ],
  ['Set', new Set<unknown>([1, 'a', { x: 1 }, new Date(5), 3n])],
  ['Buffer', Buffer.from([0, 1, 127, 128, 255])],
  ['empty Buffer', Buffer.alloc(0)],
  ['Uint8Array', new Uint8Array([1, 2, 3])],
  [
    'nested objects and arrays',
    { a: [1, { b: [null, 'x', true, [[], {}]] }], c: { d: { e: -1.5, f: 0.1 + 0.2 } }, g: [] },
  ],
  ['object with the tag key', { $t: 'D', v: 1 }],
  [
    'objects with the tag key, nested, with special values',
    { x: { $t: 'u' }, y: [{ $t: 'M', v: [new Date(1)] }] },
  ],
  ['object whose tag key holds a Map', { $t: new Map([[1, 2]]), after: 1 }],
  ['undefined', undefined],
  ['undefined in arrays and properties', { a: undefined, b: [1, undefined, 3] }],
  ['null', null],
  ['strings with unicode, newlines and quotes', 'héllo\nwörld\t"q" \\ 🎉 \u2028 \u0000 ﻿'],
  ['a string that spells a tag', '{"$t":"u"}'],
  ['NaN and infinities', [NaN, Infinity, -Infinity]],
  ['numbers', [0, 1, -1, 0.1, 2 ** 53 - 1, -(2 ** 60), 1e300, 5e-324, 7.99, 123456.7]],
  ['booleans', [true, false]],
  ['empty string', ''],
  [
    'a typical entity',
    { id: 7, name: 'Desk', price: 49.95, createdAt: new Date(1_700_000_000_000), tags: ['a', 'b'] },
  ],
];

describe.each(serializers)('%s serializer', (_name, s) => {
  test.each(roundTrips)('round-trips %s', (_label, value) => {
    expect(roundTrip(s, value)).toStrictEqual(value);
  });

  test('Date comes back as a Date, BigInt as a bigint, Buffer as a Buffer', () => {
    const out = roundTrip(s, { d: new Date(5), n: 5n, b: Buffer.from('hi') }) as Record<string, unknown>;
    expect(out.d).toBeInstanceOf(Date);
    expect((out.d as Date).getTime()).toBe(5);
    expect(typeof out.n).toBe('bigint');
    expect(Buffer.isBuffer(out.b)).toBe(true);
  });

  test('round-trips other typed arrays', () => {
    // Jest's sandbox lends tests its host's Uint8Array (for Buffer) but not the other typed
    // arrays, and msgpackr recognises typed arrays through Uint8Array's realm; build the input
    // in that realm, as a program outside Jest would.
    const HostFloat64Array: Float64ArrayConstructor = runInThisContext('Float64Array');
    const out = roundTrip(s, { f: new HostFloat64Array([1.5, -0.25, 1e300]) }) as { f: Float64Array };
    expect(Object.prototype.toString.call(out.f)).toBe('[object Float64Array]');
    expect(Array.from(out.f)).toEqual([1.5, -0.25, 1e300]);
  });

  test('round-trips an invalid Date', () => {
    const out = roundTrip(s, [new Date(NaN)]) as Date[];
    expect(out[0]).toBeInstanceOf(Date);
    expect(Number.isNaN(out[0].getTime())).toBe(true);
  });

  test('keeps `undefined` properties as own properties', () => {
    const out = roundTrip(s, { a: undefined }) as object;
    expect(Object.keys(out)).toEqual(['a']);
  });

  test('keeps key order, including around the tag key', () => {
    expect(Object.keys(roundTrip(s, { z: 1, $t: 2, a: 3 }) as object)).toEqual(['z', '$t', 'a']);
  });

  test('-0 comes back as 0 (documented)', () => {
    expect(Object.is(roundTrip(s, -0), 0)).toBe(true);
  });

  test('class instances come back as plain objects with their fields (documented)', () => {
    class Product {
      constructor(
        public id: number,
        public createdAt: Date,
      ) {}
    }
    const out = roundTrip(s, new Product(1, new Date(3)));
    expect(out).toStrictEqual({ id: 1, createdAt: new Date(3) });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });

  test('a function anywhere throws with its path', () => {
    const e = encodeError(s, { owner: { name: 'x', cb: () => 1 } });
    expect(e.path).toBe('value.owner.cb');
    expect(e.key).toBeUndefined();
    expect(e.reason).toBe('is a function');
    expect(encodeError(s, () => 1).path).toBe('value');
    expect(encodeError(s, [1, [2, function named() {}]]).path).toBe('value[1][1]');
    expect(encodeError(s, new Map([['k', () => 1]])).path).toBe('value.get("k")');
    expect(encodeError(s, { set: new Set([() => 1]) }).path).toBe('value.set.values()[0]');
  });

  test('a symbol value anywhere throws with its path', () => {
    const e = encodeError(s, { tags: ['a', Symbol('b')] });
    expect(e.path).toBe('value.tags[1]');
    expect(e.reason).toBe('is a symbol');
    expect(encodeError(s, Symbol('top')).path).toBe('value');
  });

  test('a cycle throws with its path, and the serializer still works afterwards', () => {
    const owner: Record<string, unknown> = { name: 'o' };
    owner.self = { back: owner };
    const e = encodeError(s, { owner });
    expect(e.path).toBe('value.owner.self.back');
    expect(e.reason).toMatch(/refers back to value\.owner \(a cycle\)/);

    const m = new Map<string, unknown>();
    m.set('me', m);
    expect(encodeError(s, { m }).path).toBe('value.m.get("me")');

    expect(roundTrip(s, { ok: [1, 'two'] })).toStrictEqual({ ok: [1, 'two'] });
  });

  test('the error message names the path', () => {
    expect(encodeError(s, { cb: () => 1 }).message).toBe('Cannot serialize at value.cb: is a function');
  });

  test('symbol-keyed properties are left out', () => {
    expect(roundTrip(s, { a: 1, [Symbol('s')]: 2 })).toStrictEqual({ a: 1 });
  });
});

describe('json serializer', () => {
  const s = jsonSerializer;

  test('is named json and writes readable JSON', () => {
    expect(s.name).toBe('json');
    expect(s.encode({ a: [1, 'x'] }).toString()).toBe('{"a":[1,"x"]}');
    expect(s.encode(new Date(0)).toString()).toBe('{"$t":"D","v":0}');
  });

  test('Uint8Array comes back as a Uint8Array, not a Buffer', () => {
    const out = roundTrip(s, new Uint8Array([9]));
    expect(out).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(out)).toBe(false);
  });

  test('decodes with one JSON.parse and no reviver, tagged payloads included', () => {
    const parse = jest.spyOn(JSON, 'parse');
    try {
      for (const value of [
        { id: 1, tags: ['a'], nested: { ok: true } },
        { at: new Date(0), m: new Map([[1, 2]]) },
      ]) {
        parse.mockClear();
        expect(s.decode(s.encode(value))).toStrictEqual(value);
        expect(parse).toHaveBeenCalledTimes(1);
        expect(parse.mock.calls[0]).toHaveLength(1);
      }
    } finally {
      parse.mockRestore();
    }
  });

  test('plain values are written by native JSON.stringify; others are not', () => {
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      s.encode({ id: 1, name: 'x', tags: ['a'], dims: { w: 1.5 }, none: null });
      expect(stringify).toHaveBeenCalledTimes(1);
      stringify.mockClear();
      // A Date would reach JSON.stringify's toJSON call: the tagged encoder handles it instead.
      s.encode({ id: 1, at: new Date(0) });
      expect(stringify).not.toHaveBeenCalled();
    } finally {
      stringify.mockRestore();
    }
  });

  test('values deeper than 1000 levels are refused with a reason', () => {
    let deep: unknown = new Date(0);
    for (let i = 0; i < 1100; i++) deep = [deep];
    const e = encodeError(s, deep);
    expect(e.path).toBe('value');
    expect(e.reason).toMatch(/more than 1000 levels/);
  });

  test('a class toJSON() result is what gets stored, as with JSON.stringify', () => {
    expect(roundTrip(s, { where: new URL('https://example.com/a?b=1') })).toStrictEqual({
      where: 'https://example.com/a?b=1',
    });
  });

  test('a Promise is refused rather than stored as {}', () => {
    const e = encodeError(s, { pending: Promise.resolve(1) });
    expect(e.path).toBe('value.pending');
    expect(e.reason).toMatch(/Promise/);
  });

  test('an own toJSON function on a plain object is caught as a function', () => {
    expect(encodeError(s, { inner: { toJSON: () => 'x' } }).path).toBe('value.inner.toJSON');
  });

  test.each([
    ['{"__proto__":{"polluted":true},"a":1}'],
    ['{"x":{"__proto__":{"polluted":true}},"a":1}'],
    ['{"\\u005f_proto__":{"polluted":true},"a":1}'],
    ['{"d":{"$t":"D","v":0},"__proto__":{"polluted":true},"a":1}'],
    ['{"$t":"o","v":["__proto__",{"polluted":true},"a",1]}'],
    ['{"m":{"$t":"M","v":[["__proto__",{"polluted":true}]]},"a":1}'],
  ])('a payload with __proto__ changes no prototype: %s', (payload) => {
    const out = s.decode(Buffer.from(payload)) as Record<string, any>;
    expect(({} as any).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out.polluted).toBeUndefined();
    expect(out.x?.polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(out, '__proto__')).toBe(false);
    if (out.x) expect(Object.getPrototypeOf(out.x)).toBe(Object.prototype);
    if (out.m) expect(out.m.get('__proto__')).toEqual({ polluted: true }); // a Map key is harmless
  });

  test('an own __proto__ key in a value is dropped on the way back', () => {
    const value = JSON.parse('{"__proto__":{"polluted":true},"a":1}');
    const out = roundTrip(s, value);
    expect(out).toStrictEqual({ a: 1 });
    expect(({} as any).polluted).toBeUndefined();
  });

  test.each([
    ['{"$t":"?"}', 'unknown tag'],
    ['{"$t":"n","v":"12abc"}', 'bad BigInt'],
    ['{"$t":"D","v":"yesterday"}', 'bad Date'],
    ['{"$t":"A","c":"Function","v":""}', 'class outside the list'],
    ['{"$t":"A","c":"Float64Array","v":"AAA="}', 'byte count not a multiple of the element size'],
    ['{"$t":"M","v":[[1]]}', 'bad Map entry'],
  ])('a malformed payload (%s: %s) throws CacheSerializationError', (payload) => {
    expect(() => s.decode(Buffer.from(payload))).toThrow(CacheSerializationError);
  });

  test('invalid JSON throws', () => {
    expect(() => s.decode(Buffer.from('{"a":'))).toThrow(SyntaxError);
  });
});

describe('msgpack serializer', () => {
  test('names say which wire format an entry uses', () => {
    expect(msgpackSerializer().name).toBe('msgpack');
    expect(msgpackSerializer({ float32: true }).name).toBe('msgpack-f32');
  });

  test('payloads are self-contained: another instance (another process) reads them', () => {
    const writer = msgpackSerializer();
    const a = writer.encode({ id: 1, name: 'a' });
    const b = writer.encode({ id: 2, name: 'b' });
    const reader = msgpackSerializer();
    expect(reader.decode(b)).toStrictEqual({ id: 2, name: 'b' });
    expect(reader.decode(a)).toStrictEqual({ id: 1, name: 'a' });
  });

  test('an earlier payload is not overwritten by later encodes', () => {
    const s = msgpackSerializer();
    const first = s.encode({ keep: 'me' });
    const copy = Buffer.from(first);
    for (let i = 0; i < 2000; i++) s.encode({ filler: 'x'.repeat(100), i });
    expect(first.equals(copy)).toBe(true);
  });

  test('float32 makes entries smaller without changing decimal values', () => {
    const prices = Array.from({ length: 50 }, (_, i) => 1.99 + i);
    const small = msgpackSerializer({ float32: true });
    expect(small.decode(small.encode(prices))).toStrictEqual(prices);
    expect(small.encode(prices).length).toBeLessThan(msgpackSerializer().encode(prices).length);
  });

  test('decoded Buffers are copies, not views of the payload', () => {
    const s = msgpackSerializer();
    const payload = s.encode({ b: Buffer.from('abc') });
    const out = s.decode(payload) as { b: Buffer };
    payload.fill(0);
    expect(out.b.toString()).toBe('abc');
  });

  test('RegExp and Error round-trip too', () => {
    const s = msgpackSerializer();
    const out = roundTrip(s, { re: /a+b/gi, err: new TypeError('boom') }) as { re: RegExp; err: Error };
    expect(out.re).toStrictEqual(/a+b/gi);
    expect(out.err).toBeInstanceOf(TypeError);
    expect(out.err.message).toBe('boom');
  });

  test('a hand-crafted MessagePack map with __proto__ changes no prototype', () => {
    const str = (x: string) => Buffer.concat([Buffer.from([0xa0 | x.length]), Buffer.from(x)]);
    // fixmap(2) { "__proto__": fixmap(1) { "polluted": true }, "a": 1 }
    const crafted = Buffer.concat([
      Buffer.from([0x82]),
      str('__proto__'),
      Buffer.from([0x81]),
      str('polluted'),
      Buffer.from([0xc3]),
      str('a'),
      Buffer.from([0x01]),
    ]);
    const out = msgpackSerializer().decode(crafted) as Map<string, unknown>;
    expect(({} as any).polluted).toBeUndefined();
    expect(out).toBeInstanceOf(Map); // plain MessagePack maps decode as Maps: keys cannot reach a prototype
    expect(out.get('a')).toBe(1);
  });

  test('a record payload with a __proto__ field changes no prototype', () => {
    // Records are what msgpackr writes for objects; this one names a field __proto__.
    const crafted = new Packr().pack(JSON.parse('{"__proto__":{"polluted":true},"a":1}'));
    expect(crafted.includes('__proto__')).toBe(true);
    const out = msgpackSerializer().decode(crafted) as Record<string, unknown>;
    expect(({} as any).polluted).toBeUndefined();
    expect(out.polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(out, '__proto__')).toBe(false);
    expect(out.a).toBe(1);
  });

  test('structured-clone references in a payload are refused', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const crafted = new Packr({ structuredClone: true }).pack(cyclic);
    expect(() => msgpackSerializer().decode(crafted)).toThrow(/Structured clone extension is disabled/);
  });
});
