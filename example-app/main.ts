/**
 * The cachekit example, on embedded defaults: an in-memory cache in front of a slow "database".
 * Run it with `npm run example`. Set REDIS_URL to put Redis under the in-memory tier.
 */
import { Cache } from '../src';

interface Product {
  id: number;
  name: string;
  price: number;
  updatedAt: Date;
}

/** A stand-in for a database: every read takes 20 ms and is counted. */
class SlowCatalog {
  reads = 0;
  private readonly rows = new Map<number, Product>();
  constructor() {
    for (let id = 1; id <= 50; id++)
      this.rows.set(id, { id, name: `Product ${id}`, price: 10 + id, updatedAt: new Date() });
  }
  async find(id: number): Promise<Product | null> {
    this.reads++;
    await new Promise((r) => setTimeout(r, 20));
    const row = this.rows.get(id);
    return row ? { ...row } : null;
  }
  async setPrice(id: number, price: number): Promise<void> {
    const row = this.rows.get(id)!;
    this.rows.set(id, { ...row, price, updatedAt: new Date() });
  }
}

async function makeCache(): Promise<Cache> {
  if (!process.env.REDIS_URL) return new Cache({ prefix: 'example', ttl: '10m' });
  const { RedisStore } = await import('../src/redis');
  return new Cache({ prefix: 'example', ttl: '10m', l2: new RedisStore({ url: process.env.REDIS_URL }) });
}

async function main(): Promise<void> {
  const db = new SlowCatalog();
  const cache = await makeCache();
  const product = (id: number) =>
    cache.getOrLoad(`product:${id}`, () => db.find(id), { tags: [`product:${id}`] });

  console.log(
    'cachekit example: %s cache in front of a 20 ms catalog\n',
    process.env.REDIS_URL ? 'L1 + Redis' : 'in-memory',
  );

  // Traffic follows a skewed distribution: a few products are hot.
  const started = Date.now();
  for (let round = 1; round <= 5; round++) {
    const ids = Array.from({ length: 200 }, () => 1 + Math.floor(Math.random() ** 3 * 50));
    await Promise.all(ids.map(product));
    const s = cache.stats();
    console.log(
      `round ${round}: ${String(s.hits).padStart(4)} hits, ${String(s.misses).padStart(3)} misses, hit ratio ${(s.hitRatio * 100).toFixed(1)}%, catalog reads ${db.reads}`,
    );
  }

  // A write invalidates by tag: the next read sees the new price.
  await db.setPrice(1, 99);
  await cache.invalidateTags(['product:1']);
  const p1 = await product(1);
  console.log(`\nafter a price change and invalidateTags(['product:1']): product 1 costs ${p1?.price}`);

  // Negative caching: a missing product is remembered briefly, so it does not hammer the catalog.
  const before = db.reads;
  await Promise.all([product(404), product(404), product(404)]);
  await product(404);
  console.log(`4 reads of a missing product cost ${db.reads - before} catalog read(s)`);

  const s = cache.stats();
  const saved = s.hits + s.coalesced;
  console.log(
    `\ntotal: ${s.hits} hits, ${s.misses} misses, ${s.coalesced} coalesced, hit ratio ${(s.hitRatio * 100).toFixed(1)}%`,
  );
  console.log(
    `catalog reads: ${db.reads} (saved ${saved} reads, ~${saved * 20} ms of database time) in ${Date.now() - started} ms`,
  );
  await cache.close();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
