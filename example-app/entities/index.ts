import { Category } from './category';
import { InventoryCount } from './inventory_count';
import { Order } from './order';
import { Product } from './product';
import { ProductViews } from './product_views';
import { User } from './user';

export { Category, InventoryCount, Order, Product, ProductViews, User };

/** Every entity of the shop, for the DataSource. */
export const ENTITIES = [Category, Product, User, InventoryCount, ProductViews, Order];
