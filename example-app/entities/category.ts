import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A shelf of the shop: lamps, desks, chairs. */
@Entity({ name: 'category' })
export class Category {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
}
