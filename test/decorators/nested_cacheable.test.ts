import { Cache, Cacheable } from '../../src';

/*
 * A decorated method calling another decorated method depends on the inner one's tags, with no
 * setup: @Cacheable turns load tracking on itself. (This file never calls watchLoads().)
 */
describe('nested @Cacheable methods', () => {
  const cache = new Cache();
  afterAll(() => cache.close());

  class Catalog {
    readonly cache = cache;
    price = 5;
    priceLoads = 0;
    pageLoads = 0;

    @Cacheable({ tags: ['product:1'] })
    async productPrice(): Promise<number> {
      this.priceLoads++;
      return this.price;
    }

    @Cacheable()
    async page(): Promise<string> {
      this.pageLoads++;
      return `price: ${await this.productPrice()}`;
    }
  }

  test('invalidating the inner method’s tag reloads the outer method’s entry', async () => {
    const c = new Catalog();
    expect(await c.page()).toBe('price: 5');
    expect(await c.page()).toBe('price: 5');
    expect(c.pageLoads).toBe(1);
    c.price = 7;
    await cache.invalidateTags(['product:1']);
    expect(await c.page()).toBe('price: 7');
    expect(c.pageLoads).toBe(2);
  });
});
