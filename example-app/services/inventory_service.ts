import type { DataSource } from 'typeorm';
import type { CachedRepository, CachekitTypeOrm } from '../../src/typeorm';
import { InventoryCount } from '../entities';
import { PerKeyQueue } from './per_key_queue';

/**
 * Stock levels. Reads go through the entity cache (the `inventory` policy: 1 minute), writes are
 * write-behind: a reservation is in the cache at once and reaches the database in a batch.
 */
export class InventoryService {
  private readonly counts: CachedRepository<InventoryCount>;
  private readonly serial = new PerKeyQueue();
  /** Units reserved through this service, for the report. */
  reserved = 0;

  constructor(ds: DataSource, ck: CachekitTypeOrm) {
    this.counts = ck.repository(ds.getRepository(InventoryCount));
  }

  /** Units in stock (0 for a product with no inventory row). */
  async stock(productId: number): Promise<number> {
    return (await this.counts.findOneById(productId))?.stock ?? 0;
  }

  /** Takes `quantity` units out of stock; false (and nothing changed) when there are not enough. */
  reserve(productId: number, quantity: number): Promise<boolean> {
    return this.serial.run(String(productId), async () => {
      const stock = await this.stock(productId);
      if (stock < quantity) return false;
      await this.counts.save({ productId, stock: stock - quantity });
      this.reserved += quantity;
      return true;
    });
  }
}
