import { cloneValue } from '../../src/engine/clone';
import { copierFor, copyOnFirstHit } from '../../src/engine/shape_copier';
import { Cache } from '../../src';

class Product {
  id = 0;
  name = '';
  price = 0;
  createdAt = new Date(0);
  tags: string[] = [];
  label(): string {
    return `${this.name} (${this.price})`;
  }
}

function product(id: number): Product {
  return Object.assign(new Product(), {
    id,
    name: `P${id}`,
    price: id * 1.5,
    createdAt: new Date(1_700_000_000_000 + id),
    tags: ['a', 'b'],
  });
}

const shapes: [string, unknown][] = [
  ['flat object', { a: 1, b: 'x', c: true, d: null, e: undefined }],
  ['nested object', { a: { b: { c: [1, 2, 3] } }, when: new Date(5) }],
  ['array of primitives', [1, 'two', null, false]],
  [
    'array of one-shape objects',
    [
      { id: 1, n: 'a' },
      { id: 2, n: 'b' },
    ],
  ],
  ['array of mixed objects', [{ id: 1 }, { other: 'x' }, 3]],
  ['empty containers', { list: [], obj: {} }],
  ['class instance', product(1)],
  ['list of class instances', [product(1), product(2), product(3)]],
  ['map, set and buffer inside', { m: new Map([[1, { x: 1 }]]), s: new Set([1]), b: Buffer.from('hi') }],
  ['odd keys', { 'a b': 1, '"quoted"': 2, '\u2028': 3, '1': 4, constructor: 5 }],
  ['null-prototype object', Object.assign(Object.create(null), { a: 1 })],
  ['deep nesting', { a: { b: { c: { d: { e: { f: { g: { h: 1 } } } } } } } }],
];

describe('shape copier', () => {
  test.each(shapes)(
    '%s: copies equal what the generic copier gives, and share nothing mutable',
    (_name, value) => {
      const copy = copierFor(value)(value);
      expect(copy).toEqual(cloneValue(value));
      expect(copy).toStrictEqual(cloneValue(value));
      if (typeof value === 'object' && value !== null) expect(copy).not.toBe(value);
    },
  );

  test('class instances keep their prototype and methods', () => {
    const p = product(7);
    const copy = copierFor(p)(p) as Product;
    expect(copy).toBeInstanceOf(Product);
    expect(copy.label()).toBe('P7 (10.5)');
    expect(copy.createdAt).not.toBe(p.createdAt);
    expect(copy.tags).not.toBe(p.tags);
    const list = [product(1), product(2)];
    const copies = copierFor(list)(list) as Product[];
    expect(copies[1]).toBeInstanceOf(Product);
    expect(copies[1]).not.toBe(list[1]);
  });

  test('mutating a copy leaves the original untouched', () => {
    const v = { tags: ['a'], dims: { w: 1 }, at: new Date(1), list: [{ id: 1 }] };
    const copy = copierFor(v)(v);
    copy.tags.push('b');
    copy.dims.w = 2;
    copy.at.setTime(99);
    copy.list[0].id = 42;
    expect(v).toEqual({ tags: ['a'], dims: { w: 1 }, at: new Date(1), list: [{ id: 1 }] });
  });

  test('values of one shape share one compiled copier; other shapes get their own', () => {
    const a = copierFor({ id: 1, name: 'a', at: new Date(1) });
    const b = copierFor({ id: 2, name: 'b', at: new Date(2) });
    const c = copierFor({ id: 3, name: 'c', at: null });
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(c({ id: 3, name: 'c', at: null })).toEqual({ id: 3, name: 'c', at: null });
  });

  test('an own __proto__ key never becomes a prototype', () => {
    const v = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const copy = copierFor(v)(v);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  test('property names cannot inject code into a compiled copier', () => {
    const evil = { '"]; globalThis.injected = 1; ["': 1, "'); globalThis.injected = 2; //": 2 };
    const copy = copierFor(evil)(evil);
    expect(copy).toEqual(evil);
    expect((globalThis as { injected?: number }).injected).toBeUndefined();
  });

  test('primitives are returned as they are', () => {
    for (const v of [1, 'x', null, undefined, true, 10n]) expect(copierFor(v)(v)).toBe(v);
  });
});

describe('an L1 entry works out its copier at its first hit', () => {
  /** The L1 entry of `key` (internal: the copier is not visible through the API). */
  const entryOf = (cache: Cache, key: string) =>
    (cache as unknown as { stack: { l1: { peek(k: string): { copy: unknown } | undefined } } }).stack.l1.peek(
      key,
    );

  test('a set stores the lazy copier; the first get compiles it, keeps it and still hands out copies', async () => {
    const cache = new Cache();
    const row = { id: 1, name: 'lamp', tags: ['a', 'b'], at: new Date(0) };
    await cache.set('row', row);
    expect(entryOf(cache, 'row')!.copy).toBe(copyOnFirstHit);
    const first = await cache.get<typeof row>('row');
    const compiled = entryOf(cache, 'row')!.copy;
    expect(compiled).not.toBe(copyOnFirstHit);
    // The one compiled for the stored value's shape (its Date is the read-only kind).
    expect(compiled).toBe(copierFor((entryOf(cache, 'row') as unknown as { value: unknown }).value));
    expect(first).toEqual(row);
    expect(first).not.toBe(row);
    first!.tags.push('mutated');
    const second = await cache.get<typeof row>('row');
    expect(second).toEqual(row);
    expect(second).not.toBe(first);
    expect(entryOf(cache, 'row')!.copy).toBe(compiled);
    await cache.close();
  });

  test('an entry replaced before any hit never compiles a copier for its shape', async () => {
    const cache = new Cache();
    // A shape no other test uses: had a copier been compiled, copierFor would return that one.
    const odd = { zzUnseenShape1: 1, zzUnseenShape2: { deep: [{ x: 1 }] } };
    await cache.set('k', odd);
    await cache.set('k', { other: true });
    expect(entryOf(cache, 'k')!.copy).toBe(copyOnFirstHit);
    await cache.close();
  });
});
