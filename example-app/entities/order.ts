import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A placed order of one product. Plain TypeORM writes: they invalidate what read orders. */
@Entity({ name: 'shop_order' })
export class Order {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column('int')
  userId!: number;
  @Column('int')
  productId!: number;
  @Column('int')
  quantity!: number;
  /** Cents. */
  @Column('int')
  total!: number;
}
