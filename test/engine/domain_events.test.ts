import { Cache, CacheConfigError, Cacheable, rowTag } from '../../src';

/** A loader counting its runs, so that each assertion says whether an entry was dropped. */
function counter() {
  let n = 0;
  return () => ++n;
}

function newCache() {
  return new Cache({
    policies: {
      product: { ttl: '1h', invalidateOn: ['product.updated', 'catalog.refresh'] },
      user: { ttl: '1h', invalidateOn: ['user.updated'] },
      plain: { ttl: '1h' },
    },
  });
}

describe('domain events (invalidateOn)', () => {
  test('an event drops every entry of the policies listening to it, and only those', async () => {
    const cache = newCache();
    const p = counter();
    const u = counter();
    const plain = counter();
    const none = counter();
    const read = () =>
      Promise.all([
        cache.getOrLoad('p', p, { policy: 'product' }),
        cache.getOrLoad('u', u, { policy: 'user' }),
        cache.getOrLoad('plain', plain, { policy: 'plain' }),
        cache.getOrLoad('none', none),
      ]);
    expect(await read()).toEqual([1, 1, 1, 1]);
    await cache.emit('product.updated');
    expect(await read()).toEqual([2, 1, 1, 1]);
    await cache.emit('catalog.refresh', { reason: 'nightly' });
    expect(await read()).toEqual([3, 1, 1, 1]);
    await cache.emit('user.updated');
    expect(await read()).toEqual([3, 2, 1, 1]);
  });

  test('an event no policy listens to is a no-op', async () => {
    const cache = newCache();
    const p = counter();
    await cache.getOrLoad('p', p, { policy: 'product' });
    const invalidations = cache.stats().invalidations;
    await cache.emit('order.created', { id: 1 });
    await cache.emit('user.deleted');
    expect(await cache.getOrLoad('p', p, { policy: 'product' })).toBe(1);
    expect(cache.stats().invalidations).toBe(invalidations);
  });

  test('with an id, only entries that declared that row go, plus those tied to no row', async () => {
    const cache = newCache();
    const one = counter();
    const two = counter();
    const list = counter();
    const read = () =>
      Promise.all([
        cache.getOrLoad('product:1', one, { policy: 'product', tags: [rowTag('Product', 1)] }),
        // Declared from inside the loader (as @Cacheable's [Product, id => id] does).
        cache.getOrLoad(
          'product:2',
          (ctx) => {
            ctx.addTags(rowTag('Product', 2));
            return two();
          },
          { policy: 'product' },
        ),
        cache.getOrLoad('products', list, { policy: 'product' }),
      ]);
    expect(await read()).toEqual([1, 1, 1]);
    await cache.emit('product.updated', { id: 1 });
    expect(await read()).toEqual([2, 1, 2]);
    await cache.emit('product.updated', { ids: [2, 3] });
    expect(await read()).toEqual([2, 2, 3]);
    // No id: the whole policy, rows included.
    await cache.emit('product.updated');
    expect(await read()).toEqual([3, 3, 4]);
  });

  test('a row of another entity does not tie an entry to rows of the event entity', async () => {
    const cache = newCache();
    const c = counter();
    const read = () =>
      cache.getOrLoad('by-category', c, { policy: 'product', tags: [rowTag('Category', 5)] });
    expect(await read()).toBe(1);
    await cache.emit('product.updated', { id: 9 });
    expect(await read()).toBe(2);
  });

  test('composite and string ids match the row tags of the same ids', async () => {
    const cache = newCache();
    const a = counter();
    const b = counter();
    const read = () =>
      Promise.all([
        cache.getOrLoad('a', a, { policy: 'product', tags: [rowTag('Product', { shop: 1, sku: 'x' })] }),
        cache.getOrLoad('b', b, { policy: 'product', tags: [rowTag('Product', 'abc')] }),
      ]);
    expect(await read()).toEqual([1, 1]);
    await cache.emit('product.updated', { id: { sku: 'x', shop: 1 } });
    expect(await read()).toEqual([2, 1]);
    await cache.emit('product.updated', { id: 'abc' });
    expect(await read()).toEqual([2, 2]);
  });

  test('@Cacheable entries of a policy are tied to the rows their tag specs name', async () => {
    const cache = newCache();
    const loads: number[] = [];
    class Product {}
    class Products {
      @Cacheable({ cache, policy: 'product', tags: [[Product, (args: number[]) => args[0]]] })
      async find(id: number) {
        loads.push(id);
        return { id };
      }
    }
    const s = new Products();
    await s.find(1);
    await s.find(2);
    await cache.emit('product.updated', { id: 2 });
    await s.find(1);
    await s.find(2);
    expect(loads).toEqual([1, 2, 2]);
  });

  test('rows captured from what the loader read do not tie the entry to those rows', async () => {
    const cache = newCache();
    const { currentLoad, watchLoads } = await import('../../src');
    watchLoads();
    const list = counter();
    // An integration capturing a dependency sees the load through currentLoad().
    const read = () =>
      cache.getOrLoad(
        'list',
        () => {
          currentLoad()!.addTags(rowTag('Product', 1));
          return list();
        },
        { policy: 'product' },
      );
    expect(await read()).toBe(1);
    // Product 7 may now belong to the list: it must go.
    await cache.emit('product.updated', { id: 7 });
    expect(await read()).toBe(2);
  });

  test('an event reaches the entries of the cache it is emitted on: namespaces keep their own', async () => {
    const cache = newCache();
    const ns = cache.namespace('shop');
    const root = counter();
    const inNs = counter();
    await cache.getOrLoad('k', root, { policy: 'user' });
    await ns.getOrLoad('k', inNs, { policy: 'user' });
    await ns.emit('user.updated');
    expect(await cache.getOrLoad('k', root, { policy: 'user' })).toBe(1);
    expect(await ns.getOrLoad('k', inNs, { policy: 'user' })).toBe(2);
  });

  test('bad input is a CacheConfigError naming the option', async () => {
    const cache = newCache();
    await expect(cache.emit('')).rejects.toThrow(CacheConfigError);
    await expect(cache.emit(42 as unknown as string)).rejects.toThrow(/"event" \(42\).*user\.updated/);
    await expect(cache.emit('product updated')).rejects.toThrow(CacheConfigError);
    await expect(cache.emit('hit')).rejects.toThrow(/cache event/);
    await expect(cache.emit('product.updated', 5 as never)).rejects.toThrow(/payload/);
    await expect(cache.emit('product.updated', { id: null })).rejects.toThrow(/payload\.id/);
    await expect(cache.emit('product.updated', { ids: 3 as never })).rejects.toThrow(/payload\.ids/);
    await expect(cache.emit('product.updated', { ids: [1, undefined] })).rejects.toThrow(/payload\.ids\[1\]/);
    expect(() => new Cache({ policies: { p: { invalidateOn: 'user.updated' as never } } })).toThrow(
      /policies\.p\.invalidateOn/,
    );
    expect(() => new Cache({ policies: { p: { invalidateOn: ['ok.event', ''] } } })).toThrow(
      /policies\.p\.invalidateOn\[1\]/,
    );
  });
});
