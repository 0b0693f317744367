import { CacheConfigError, CacheKeyError } from '../../src/errors';
import { argsKey, limitKeyLength, locateUnsupported, stableKey } from '../../src/engine/keys';

function keyError(fn: () => unknown): CacheKeyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CacheKeyError);
    return err as CacheKeyError;
  }
  throw new Error('expected a CacheKeyError');
}

describe('stableKey', () => {
  test('primitives: strings stay readable and apart from numbers, booleans and null', () => {
    expect(stableKey('user')).toBe('user');
    expect(stableKey(42)).toBe('42');
    expect(stableKey('42')).toBe('"42"');
    expect(stableKey(true)).toBe('#true');
    expect(stableKey('true')).toBe('true');
    expect(stableKey(null)).toBe('#null');
    expect(stableKey(undefined)).toBe('#undefined');
    expect(stableKey('#undefined')).toBe('"#undefined"');
    expect(stableKey('')).toBe('""');
  });

  test('a plain string comes back as the very same string (no copy on the hot path)', () => {
    const s = 'product:' + String(Math.random());
    expect(stableKey(s)).toBe(s);
  });

  test('object key order does not matter, nested included', () => {
    expect(stableKey({ a: 1, b: { c: 2, d: [1, { e: 3, f: 4 }] } })).toBe(
      stableKey({ b: { d: [1, { f: 4, e: 3 }], c: 2 }, a: 1 }),
    );
    expect(stableKey({ a: 1, b: 2 })).toBe('{"a":1,"b":2}');
  });

  test('array order does matter', () => {
    expect(stableKey([1, 2])).not.toBe(stableKey([2, 1]));
  });

  test.each<[string, unknown, unknown]>([
    ['Date vs its ISO string', new Date(0), '1970-01-01T00:00:00.000Z'],
    ['Date vs its epoch number', new Date(0), 0],
    ['invalid Date vs NaN', new Date(NaN), NaN],
    ['BigInt vs string', 1n, '1'],
    ['BigInt vs number', 1n, 1],
    ['number vs string', 1, '1'],
    ['Set vs array', new Set([1]), [1]],
    ['Map vs object', new Map([['a', 1]]), { a: 1 }],
    ['Map vs entries array', new Map([['a', 1]]), [['a', 1]]],
    ['Buffer vs its string', Buffer.from('hi'), 'hi'],
    ['Buffer vs its base64', Buffer.from('hi'), 'aGk='],
    ['Buffer vs byte array', Buffer.from([1, 2]), [1, 2]],
    [
      'Float32Array vs Uint8Array of the same bytes',
      new Float32Array([1]),
      new Uint8Array(new Float32Array([1]).buffer),
    ],
    ['undefined vs null', undefined, null],
    ['undefined vs "undefined"', undefined, 'undefined'],
    ['null vs "null"', null, 'null'],
    ['NaN vs "NaN"', NaN, 'NaN'],
    ['NaN vs null', NaN, null],
    ['Infinity vs -Infinity', Infinity, -Infinity],
    ['Infinity vs "Infinity"', Infinity, 'Infinity'],
    ['nested Date vs nested string', { at: new Date(0) }, { at: '1970-01-01T00:00:00.000Z' }],
    ['nested BigInt vs nested string', [1n], ['1']],
    ['nested undefined vs nested null', [undefined], [null]],
    ['a property set to undefined vs an absent one', { a: undefined }, {}],
    ['nested Set vs nested array', { s: new Set(['x']) }, { s: ['x'] }],
    ['RegExp vs RegExp', /a/g, /b/g],
    ['string that looks like an array', '[1]', [1]],
    ['string that looks like an object', '{"a":1}', { a: 1 }],
    ['string that looks like a Set', '#Set[1]', new Set([1])],
    ['empty string vs empty array', '', []],
  ])('%s give different keys', (_label, a, b) => {
    expect(stableKey(a)).not.toBe(stableKey(b));
  });

  test('-0 and 0 share a key, as they do as Map keys', () => {
    expect(stableKey(-0)).toBe(stableKey(0));
    expect(stableKey([-0])).toBe(stableKey([0]));
  });

  test('Buffer and Uint8Array with the same bytes share a key', () => {
    expect(stableKey(Buffer.from([1, 2, 3]))).toBe(stableKey(new Uint8Array([1, 2, 3])));
    expect(stableKey(Buffer.from([1, 2, 3]))).not.toBe(stableKey(Buffer.from([1, 2, 4])));
  });

  test('Dates differing by one millisecond differ', () => {
    expect(stableKey(new Date(1))).not.toBe(stableKey(new Date(2)));
  });

  test('Map and Set ignore insertion order', () => {
    expect(
      stableKey(
        new Map<unknown, unknown>([
          ['b', 2],
          [1, { y: 1, x: 2 }],
        ]),
      ),
    ).toBe(
      stableKey(
        new Map<unknown, unknown>([
          [1, { x: 2, y: 1 }],
          ['b', 2],
        ]),
      ),
    );
    expect(stableKey(new Set([3, 'a', 1n]))).toBe(stableKey(new Set([1n, 3, 'a'])));
    expect(stableKey(new Set([1, 2]))).not.toBe(stableKey(new Set([1, 3])));
    expect(stableKey(new Map([['a', 1]]))).not.toBe(stableKey(new Map([['a', 2]])));
  });

  test('strings with separators cannot forge structure', () => {
    expect(stableKey(['a,b'])).not.toBe(stableKey(['a', 'b']));
    expect(stableKey({ 'a":1,"b': 2 })).not.toBe(stableKey({ a: 1, b: 2 }));
    expect(stableKey(new Map([['a:1', 2]]))).not.toBe(stableKey(new Map([['a', '1:2']])));
  });

  test('class instances are keyed by their own enumerable properties, like plain objects', () => {
    class Filter {
      status = 'open';
      limit = 10;
      describe() {
        return this.status;
      }
    }
    expect(stableKey(new Filter())).toBe(stableKey({ limit: 10, status: 'open' }));
    const other = new Filter();
    other.limit = 20;
    expect(stableKey(other)).not.toBe(stableKey(new Filter()));
  });

  test('a class instance with no visible state is refused, not keyed as {}', () => {
    const e = keyError(() => stableKey({ where: new URL('https://example.com/a') }, 'query'));
    expect(e.path).toBe('query.where');
    expect(e.reason).toMatch(/URL with no own enumerable properties/);
    expect(keyError(() => argsKey([1, Promise.resolve(2)])).reason).toMatch(/Promise/);
  });

  test('a shared (non-cyclic) reference is fine', () => {
    const shared = { id: 1 };
    expect(stableKey({ a: shared, b: shared })).toBe('{"a":{"id":1},"b":{"id":1}}');
  });

  test('symbol-keyed properties are ignored', () => {
    expect(stableKey({ a: 1, [Symbol('hidden')]: 2 })).toBe(stableKey({ a: 1 }));
  });

  test('functions anywhere throw CacheKeyError naming the path', () => {
    expect(keyError(() => stableKey(() => 1)).path).toBe('key');
    expect(keyError(() => stableKey({ filter: { cb: () => 1 } })).path).toBe('key.filter.cb');
    expect(keyError(() => stableKey([1, [2, () => 3]], 'input')).path).toBe('input[1][1]');
    expect(keyError(() => stableKey({ 'odd key': () => 1 })).path).toBe('key["odd key"]');
    expect(keyError(() => stableKey(new Map([['k', () => 1]]))).path).toBe('key.get("k")');
    expect(keyError(() => stableKey(new Set([1, () => 1]))).path).toBe('key.values()[1]');
    const e = keyError(() => stableKey({ cb: () => 1 }));
    expect(e.reason).toBe('is a function');
    expect(e.message).toBe('Cannot build a cache key from key.cb: is a function');
  });

  test('symbol values anywhere throw CacheKeyError naming the path', () => {
    expect(keyError(() => stableKey(Symbol('s'))).path).toBe('key');
    const e = keyError(() => stableKey({ a: [{ tag: Symbol('s') }] }));
    expect(e.path).toBe('key.a[0].tag');
    expect(e.reason).toBe('is a symbol');
  });

  test('cycles throw CacheKeyError naming where the cycle closes', () => {
    const o: Record<string, unknown> = { a: { b: {} } };
    (o.a as any).b.back = o.a;
    const e = keyError(() => stableKey(o));
    expect(e.path).toBe('key.a.b.back');
    expect(e.reason).toMatch(/refers back to key\.a/);
    const m = new Map<string, unknown>();
    m.set('self', m);
    expect(keyError(() => stableKey(m)).path).toBe('key.get("self")');
  });

  test('inputs nested more than 256 levels deep are refused, not overflowed', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 300; i++) deep = { d: deep };
    const e = keyError(() => stableKey(deep));
    expect(e.path).toBe('key');
    expect(e.reason).toMatch(/more than 256 levels/);
  });
});

describe('argsKey', () => {
  test('no arguments give an empty string, distinct from one empty-string argument', () => {
    expect(argsKey([])).toBe('');
    expect(argsKey([''])).toBe('""');
  });

  test('one primitive argument is its primitive encoding', () => {
    expect(argsKey(['abc'])).toBe('abc');
    expect(argsKey([42])).toBe('42');
    expect(argsKey(['42'])).toBe('"42"');
    expect(argsKey([7n])).toBe('7n');
  });

  test('several arguments are joined unambiguously', () => {
    expect(argsKey([1, 'a'])).toBe('1,"a"');
    expect(argsKey(['a', 'b'])).not.toBe(argsKey(['a,b']));
    expect(argsKey(['a', 'b'])).not.toBe(argsKey([['a', 'b']]));
    expect(argsKey([1, 2])).not.toBe(argsKey(['1,2']));
    expect(argsKey([1])).not.toBe(argsKey([1, undefined]));
    expect(argsKey([{ b: 1, a: 2 }, new Date(0)])).toBe(argsKey([{ a: 2, b: 1 }, new Date(0)]));
  });

  test('errors name the argument: args[i]…', () => {
    expect(keyError(() => argsKey([1, { filter: { cb: () => 1 } }])).path).toBe('args[1].filter.cb');
    expect(keyError(() => argsKey([() => 1])).path).toBe('args[0]');
    expect(keyError(() => argsKey([{ s: Symbol('x') }])).path).toBe('args[0].s');
  });
});

describe('limitKeyLength', () => {
  test('short keys come back unchanged', () => {
    const key = 'x'.repeat(200);
    expect(limitKeyLength(key)).toBe(key);
    expect(limitKeyLength('product:1', 64)).toBe('product:1');
  });

  test('long keys become a readable head, #, and a hash, within the limit', () => {
    const key = 'search:' + 'q'.repeat(500);
    const limited = limitKeyLength(key);
    expect(limited.length).toBeLessThanOrEqual(200);
    expect(limited.startsWith('search:qqq')).toBe(true);
    expect(limited).toMatch(/^search:q{93}#[A-Za-z0-9_-]{43}$/);
    expect(limitKeyLength(key)).toBe(limited);
  });

  test.each([64, 65, 100, 201])('keys hashed with maxLength %i fit', (max) => {
    for (const len of [max + 1, max * 3]) {
      expect(limitKeyLength('k'.repeat(len), max).length).toBeLessThanOrEqual(max);
    }
  });

  test('keys differing only past the head stay distinct', () => {
    const head = 'h'.repeat(300);
    expect(limitKeyLength(head + 'a')).not.toBe(limitKeyLength(head + 'b'));
  });

  test('a short key shaped like a hashed one is hashed too, so it cannot take over that entry', () => {
    const long = 'report:' + 'z'.repeat(400);
    const forged = limitKeyLength(long);
    expect(forged.length).toBeLessThanOrEqual(200);
    expect(limitKeyLength(forged)).not.toBe(forged);
    expect(limitKeyLength(forged)).not.toBe(limitKeyLength(long));
  });

  test('a surrogate pair at the cut is not split', () => {
    const key = 'a'.repeat(99) + '😀' + 'b'.repeat(300);
    const limited = limitKeyLength(key);
    expect(limited.startsWith('a'.repeat(99) + '#')).toBe(true);
    expect(Buffer.from(limited, 'utf8').toString('utf8')).toBe(limited);
  });

  test('maxLength under 64 is a CacheConfigError on maxKeyLength', () => {
    expect(() => limitKeyLength('k', 63)).toThrow(CacheConfigError);
    try {
      limitKeyLength('k', 10);
    } catch (err) {
      expect((err as CacheConfigError).option).toBe('maxKeyLength');
      expect((err as CacheConfigError).value).toBe(10);
    }
    expect(() => limitKeyLength('k', 100.5)).toThrow(CacheConfigError);
  });
});

describe('locateUnsupported', () => {
  test('finds nothing in a supported value', () => {
    expect(
      locateUnsupported({ a: [1, new Date(), new Map([[1, { b: 2 }]])] }, 'value', 'value'),
    ).toBeUndefined();
  });

  test('in value mode a Promise is opaque, in key mode any stateless instance is', () => {
    expect(locateUnsupported({ p: Promise.resolve(1) }, 'value', 'value')?.path).toBe('value.p');
    expect(locateUnsupported({ u: new URL('https://x.test') }, 'value', 'value')).toBeUndefined();
    expect(locateUnsupported({ u: new URL('https://x.test') }, 'key', 'key')?.kind).toBe('opaque');
  });
});
