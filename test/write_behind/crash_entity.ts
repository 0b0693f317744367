import 'reflect-metadata';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { CachePolicy } from '../../src';

/** The crash tests' entity, on a table named by the parent (the child process shares it). */
export function crashEntity(table: string) {
  @CachePolicy({ strategy: 'write-behind', ttl: '1h' })
  @Entity({ name: table })
  class WbCrashItem {
    @PrimaryColumn('int')
    id!: number;
    @Column('text')
    name!: string;
    @Column('int')
    rev!: number;
  }
  return WbCrashItem;
}
