import type { DataSource } from 'typeorm';
import { Category, InventoryCount, Product, ProductViews, User } from './entities';

/** How big the seeded shop is. */
export const SEED = {
  categories: ['lamps', 'desks', 'chairs', 'shelves'],
  productsPerCategory: 10,
  users: 5,
};

/**
 * Fills an empty database: 4 categories of 10 products, 5 customers, 100 units of each product
 * in stock, and a history of page views (100 for product 1 down to 61 for product 40).
 */
export async function seed(ds: DataSource): Promise<void> {
  const categories = await ds.getRepository(Category).save(SEED.categories.map((name) => ({ name })));
  const products: Partial<Product>[] = [];
  categories.forEach((c, ci) => {
    for (let i = 0; i < SEED.productsPerCategory; i++) {
      const n = ci * SEED.productsPerCategory + i + 1;
      products.push({ name: `${c.name.slice(0, -1)} ${n}`, price: 1000 + 250 * n, categoryId: c.id });
    }
  });
  // Inserted in id order, so "lamp 1" gets id 1 and the popular products are the low ids.
  const saved = await ds.getRepository(Product).save(products);
  await ds.getRepository(User).save(
    Array.from({ length: SEED.users }, (_, i) => ({
      name: `customer ${i + 1}`,
      email: `c${i + 1}@shop.test`,
    })),
  );
  await ds.getRepository(InventoryCount).insert(saved.map((p) => ({ productId: p.id, stock: 100 })));
  await ds.getRepository(ProductViews).insert(saved.map((p, i) => ({ productId: p.id, views: 100 - i })));
}
