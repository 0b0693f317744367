/**
 * The cachekit example: a small product catalog on TypeORM. Run it with `npm run example`.
 * Embedded defaults: SQLite in memory and an in-memory cache, no server needed. Set
 * DATABASE_URL (PostgreSQL) and/or REDIS_URL to run the same scenario on real servers.
 */
import 'reflect-metadata';
import { Column, DataSource, Entity, ManyToOne, PrimaryGeneratedColumn, type Repository } from 'typeorm';
import { Cache, Cacheable, CachePolicy, type CacheOptions } from '../src';
import { cachekitTypeOrm, type CachedRepository } from '../src/typeorm';

@Entity({ name: 'example_category' })
class Category {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
}

/** Products are read far more than written: their cached state is refreshed on every commit. */
@CachePolicy({ strategy: 'write-through', ttl: '24h' })
@Entity({ name: 'example_product' })
class Product {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
  @Column('int')
  price!: number;
  @ManyToOne(() => Category, { eager: false })
  category!: Category;
}

/** A service whose reads are cached; no tags anywhere: what it reads through TypeORM tags it. */
class CatalogService {
  dbReads = 0;
  constructor(
    readonly cache: Cache,
    private readonly products: Repository<Product>,
  ) {}

  @Cacheable({ ttl: '10m' })
  async priceList(categoryId: number): Promise<string[]> {
    this.dbReads++;
    const rows = await this.products.find({ where: { category: { id: categoryId } }, order: { id: 'ASC' } });
    return rows.map((p) => `${p.name} ${p.price}`);
  }

  @Cacheable({ ttl: '1m', negativeTtl: '30s' })
  async priceOf(productId: number): Promise<number | null> {
    this.dbReads++;
    return (await this.products.findOneBy({ id: productId }))?.price ?? null;
  }
}

async function makeCache(): Promise<Cache> {
  const options: CacheOptions = { prefix: 'example', ttl: '10m' };
  if (!process.env.REDIS_URL) return new Cache(options);
  const { RedisStore } = await import('../src/redis');
  return new Cache({ ...options, l2: new RedisStore({ url: process.env.REDIS_URL }) });
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

async function main(): Promise<void> {
  const cache = await makeCache();
  const ck = cachekitTypeOrm(cache);
  const common = {
    entities: [Product, Category],
    synchronize: true,
    subscribers: [ck.Subscriber],
    cache: { provider: ck.provider },
  };
  const ds = new DataSource(
    process.env.DATABASE_URL
      ? { type: 'postgres', url: process.env.DATABASE_URL, ...common, dropSchema: false }
      : { type: 'better-sqlite3', database: ':memory:', ...common },
  );
  await ds.initialize();
  const products = ds.getRepository(Product);
  const byId: CachedRepository<Product> = ck.repository(products);
  const service = new CatalogService(cache, products);

  console.log(
    'cachekit example: TypeORM on %s, cache %s\n',
    process.env.DATABASE_URL ? 'PostgreSQL' : 'SQLite (in memory)',
    process.env.REDIS_URL ? 'L1 + Redis' : 'in memory',
  );

  // Seed: 3 categories, 30 products.
  await products.createQueryBuilder().delete().execute();
  await ds.getRepository(Category).createQueryBuilder().delete().execute();
  const cats = await ds
    .getRepository(Category)
    .save([{ name: 'lamps' }, { name: 'desks' }, { name: 'chairs' }]);
  await products.save(
    Array.from({ length: 30 }, (_, i) =>
      products.create({ name: `item${i + 1}`, price: 10 + i, category: cats[i % 3] }),
    ),
  );
  const ids = (await products.find({ order: { id: 'ASC' } })).map((p) => p.id);

  // Traffic: skewed towards a few hot products, as real catalogs are.
  for (let round = 1; round <= 3; round++) {
    for (let i = 0; i < 300; i++) {
      const id = ids[Math.floor(Math.random() ** 3 * ids.length)];
      await Promise.all([service.priceOf(id), byId.findOneById(id), service.priceList(cats[i % 3].id)]);
    }
    const s = cache.stats();
    console.log(
      `round ${round}: hit ratio ${pct(s.hitRatio)}, database reads by the service ${service.dbReads}`,
    );
  }

  // A price change: exactly what depends on that product is refreshed, after COMMIT.
  const target = ids[0];
  const before = service.dbReads;
  const p = (await byId.findOneById(target))!;
  p.price = 999;
  await products.save(p);
  const list = await service.priceList(cats[0].id);
  const price = await service.priceOf(target);
  console.log(`\nsaved ${p.name} at 999 (invalidated after COMMIT):`);
  console.log(`  priceOf(${p.name}) = ${price}, priceList(lamps) starts "${list[0]}": both reloaded`);
  console.log(
    `  (${service.dbReads - before} database reads; the service's entries carry the table tags of what they read)`,
  );
  const loads = cache.stats().loads;
  const wt = await byId.findOneById(target);
  const other = await byId.findOneById(ids[1]);
  console.log(
    `  entity cache: ${p.name} = ${wt?.price} (written through), item2 = ${other?.price} (row-tagged, untouched): ${cache.stats().loads - loads} loads`,
  );

  // A rolled-back write changes nothing.
  await ds
    .transaction(async (em) => {
      await em.update(Product, { id: target }, { price: 1 });
      throw new Error('rollback');
    })
    .catch(() => undefined);
  console.log(`\nafter a rolled-back update: priceOf(${p.name}) = ${await service.priceOf(target)}`);

  // Negative caching: a missing product is remembered briefly.
  const r0 = service.dbReads;
  for (let i = 0; i < 3; i++) await service.priceOf(123456);
  console.log(`3 reads of a missing product cost ${service.dbReads - r0} database read(s)`);

  const s = cache.stats();
  console.log(
    `\ntotal: ${s.hits} hits, ${s.misses} misses (hit ratio ${pct(s.hitRatio)}), ${s.loads} loads, ${s.invalidations} tag invalidations`,
  );
  await ds.destroy();
  await cache.close();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
