import type { DataSource, Repository } from 'typeorm';
import { Like } from 'typeorm';
import { type Cache, Cacheable } from '../../src';
import type { CachedRepository, CachekitTypeOrm } from '../../src/typeorm';
import { Category, Product } from '../entities';
import type { LoaderCalls } from './loader_calls';
import { categoryTag } from './tags';

/** What a product page shows. */
export interface ProductPage {
  id: number;
  name: string;
  price: number;
  category: string;
  categoryId: number;
}

/**
 * The catalog: product pages, category listings and search. No method names a table tag: what a
 * method reads through TypeORM tags its entry, so a committed price change reaches every result
 * that showed the old price. Category tags are added by hand, for merchandising changes the
 * database does not see (a promotion banner, a re-ordering).
 */
export class CatalogService {
  private readonly products: Repository<Product>;
  private readonly categories: Repository<Category>;
  /** Products by id through the cache: write-through, so a saved price is served without a query. */
  readonly productsById: CachedRepository<Product>;

  constructor(
    readonly cache: Cache,
    ds: DataSource,
    ck: CachekitTypeOrm,
    private readonly counter: LoaderCalls,
  ) {
    this.products = ds.getRepository(Product);
    this.categories = ds.getRepository(Category);
    this.productsById = ck.repository(this.products);
  }

  /** A product page; `null` (cached briefly: negative caching) for an id that does not exist. */
  @Cacheable({
    policy: 'product_catalog',
    key: (id: number) => ['product', id],
    tags: (_args, page: ProductPage | null) => (page ? [categoryTag(page.categoryId)] : []),
  })
  async product(id: number): Promise<ProductPage | null> {
    this.counter.loaded('product');
    this.counter.loaded(`product ${id}`);
    const p = await this.products.findOneBy({ id });
    if (!p) return null;
    const c = await this.categories.findOneBy({ id: p.categoryId });
    return { id: p.id, name: p.name, price: p.price, category: c?.name ?? '?', categoryId: p.categoryId };
  }

  /** The products of a category, cheapest first. */
  @Cacheable({
    policy: 'product_catalog',
    key: (categoryId: number) => ['category-products', categoryId],
    tags: (args) => [categoryTag(args[0])],
  })
  async productsInCategory(categoryId: number): Promise<{ id: number; name: string; price: number }[]> {
    this.counter.loaded('productsInCategory');
    const rows = await this.products.find({ where: { categoryId }, order: { price: 'ASC', id: 'ASC' } });
    return rows.map((p) => ({ id: p.id, name: p.name, price: p.price }));
  }

  /** Products whose name contains `q` (at most 20). */
  @Cacheable({ policy: 'search_results', key: (q: string) => ['search', q.toLowerCase()] })
  async search(q: string): Promise<{ id: number; name: string; price: number }[]> {
    this.counter.loaded('search');
    const rows = await this.products.find({
      where: { name: Like(`%${q.toLowerCase()}%`) },
      order: { id: 'ASC' },
      take: 20,
    });
    return rows.map((p) => ({ id: p.id, name: p.name, price: p.price }));
  }

  /**
   * Changes a price through the cached repository: after COMMIT the plugin stores the new row
   * (write-through) and bumps its tags, which drops every page, listing and search showing it.
   */
  async changePrice(id: number, price: number): Promise<Product | null> {
    const p = await this.productsById.findOneById(id);
    if (!p) return null;
    return this.productsById.save({ ...p, price });
  }

  /** Drops every cached result about a category: one tag bump, nothing scanned. */
  async invalidateCategory(categoryId: number): Promise<void> {
    await this.cache.invalidateTags([categoryTag(categoryId)]);
  }

  /** Product ids, for the warmers and the traffic generator. */
  async productIds(): Promise<number[]> {
    return (await this.products.find({ select: { id: true }, order: { id: 'ASC' } })).map((p) => p.id);
  }
}
