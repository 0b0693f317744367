import type { DataSource, Repository } from 'typeorm';
import type { CachedRepository, CachekitTypeOrm } from '../../src/typeorm';
import { ProductViews } from '../entities';
import { PerKeyQueue } from './per_key_queue';

/** Page views per product: write-behind counters, and the ranking the warmers start from. */
export class ViewCounter {
  private readonly views: CachedRepository<ProductViews>;
  private readonly table: Repository<ProductViews>;
  private readonly serial = new PerKeyQueue();

  constructor(ds: DataSource, ck: CachekitTypeOrm) {
    this.table = ds.getRepository(ProductViews);
    this.views = ck.repository(this.table);
  }

  /** Counts one view; the cache has it at once, the database after the next flush. */
  record(productId: number): Promise<number> {
    return this.serial.run(String(productId), async () => {
      const views = ((await this.views.findOneById(productId))?.views ?? 0) + 1;
      await this.views.save({ productId, views });
      return views;
    });
  }

  /** Views of one product as the cache knows them (ahead of the database until the flush). */
  async count(productId: number): Promise<number> {
    return (await this.views.findOneById(productId))?.views ?? 0;
  }

  /** The `n` most viewed products as the database has them (what has been flushed). */
  async mostViewed(n: number): Promise<number[]> {
    const rows = await this.table.find({ order: { views: 'DESC', productId: 'ASC' }, take: n });
    return rows.map((r) => r.productId);
  }
}
