import { Column, Entity, PrimaryColumn } from 'typeorm';
import { CachePolicy } from '../../src';

/**
 * Units in stock per product. Every order changes it, so write-behind: the cache has the new count
 * at once and the database gets the counts in batches. TTL from the config's inventory policy.
 */
@CachePolicy({ strategy: 'write-behind', policy: 'inventory' })
@Entity({ name: 'inventory_count' })
export class InventoryCount {
  @PrimaryColumn('int')
  productId!: number;
  @Column('int')
  stock!: number;
}
