import type { DataSource, Repository } from 'typeorm';
import { Order } from '../entities';
import type { CatalogService } from './catalog_service';
import type { InventoryService } from './inventory_service';

/** Places orders: reserves stock (write-behind) and records the order (a plain TypeORM insert). */
export class OrderService {
  private readonly orders: Repository<Order>;

  constructor(
    ds: DataSource,
    private readonly catalog: CatalogService,
    private readonly inventory: InventoryService,
  ) {
    this.orders = ds.getRepository(Order);
  }

  /** The order, or `null` when the product is unknown or out of stock. */
  async place(userId: number, productId: number, quantity: number): Promise<Order | null> {
    const product = await this.catalog.product(productId);
    if (!product) return null;
    if (!(await this.inventory.reserve(productId, quantity))) return null;
    // After this insert commits, the buyer's cached profile (it counts orders) is invalidated.
    return this.orders.save(
      this.orders.create({ userId, productId, quantity, total: product.price * quantity }),
    );
  }
}
