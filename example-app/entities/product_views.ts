import { Column, Entity, PrimaryColumn } from 'typeorm';
import { CachePolicy } from '../../src';

/**
 * Page views per product: one write per view, whose exact moment of persistence does not
 * matter, the textbook write-behind case. Startup warming reads the most viewed products here.
 */
@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: 'product_views' })
export class ProductViews {
  @PrimaryColumn('int')
  productId!: number;
  @Column('int')
  views!: number;
}
