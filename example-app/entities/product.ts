import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { CachePolicy } from '../../src';

/**
 * Read far more often than written, so write-through: after a committed write the plugin stores
 * the new state, and the next read by id needs no query. TTL from the config's product_catalog.
 */
@CachePolicy({ strategy: 'write-through', policy: 'product_catalog' })
@Entity({ name: 'product' })
export class Product {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
  /** Cents, so that prices add up exactly. */
  @Column('int')
  price!: number;
  @Column('int')
  categoryId!: number;
}
