/**
 * The row of the write-behind scenario, shared by the bench and its flusher worker process
 * (bench/write_behind_worker.ts): both must map the same class name to the same table.
 */
import 'reflect-metadata';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { CachePolicy } from '../src';

/** The write-behind entity of table `table`. */
export function benchRowEntity(table: string) {
  @CachePolicy({ strategy: 'write-behind', ttl: '1h' })
  @Entity({ name: table })
  class WbBenchRow {
    @PrimaryColumn('int')
    id!: number;
    @Column('text')
    name!: string;
    @Column('int')
    qty!: number;
    @Column('int')
    rev!: number;
  }
  return WbBenchRow;
}

/** An instance type of `benchRowEntity`'s class. */
export type BenchRow = InstanceType<ReturnType<typeof benchRowEntity>>;
