import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A customer. */
@Entity({ name: 'customer' })
export class User {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
  @Column()
  email!: string;
}
