import { DataSource } from 'typeorm';
import type { Cache } from '../../src';
import { cachekitTypeOrm } from '../../src/typeorm';
import { DATABASE_URL, requirePostgres } from './services';
import { openStack, type StackHandle, type StackKind } from './stacks';

/** The databases every TypeORM test runs on. */
export type Db = 'sqlite' | 'postgres';

/** A DataSource wired to an L1 + Redis cache through the cachekit plugin, and its clean-up. */
export interface TypeOrmFixture {
  readonly ds: DataSource;
  readonly cache: Cache;
  readonly stack: StackHandle;
  /** Drops the given tables (PostgreSQL keeps them between runs), destroys the DataSource, removes the cache keys. */
  close(tables: readonly string[]): Promise<void>;
}

/** Opens `db` with `entities`, the invalidation subscriber and the query-cache provider, the cache on `stackKind`. */
export async function openTypeOrm(
  db: Db,
  entities: (new () => unknown)[],
  name: string,
  stackKind: StackKind = 'l1+redis',
): Promise<TypeOrmFixture> {
  if (db === 'postgres') await requirePostgres();
  const stack = await openStack(stackKind, `${name}-${db}`);
  const cache = stack.makeCache();
  const ck = cachekitTypeOrm(cache, { onError: (e) => console.error(e) });
  const common = {
    entities,
    synchronize: true,
    subscribers: [ck.Subscriber],
    cache: { provider: ck.provider },
  };
  const ds = new DataSource(
    db === 'sqlite'
      ? { type: 'better-sqlite3', database: ':memory:', ...common }
      : { type: 'postgres', url: DATABASE_URL, ...common },
  );
  await ds.initialize();
  return {
    ds,
    cache,
    stack,
    async close(tables) {
      if (db === 'postgres') for (const t of tables) await ds.query(`DROP TABLE IF EXISTS "${t}" CASCADE`);
      await ds.destroy();
      await stack.cleanup();
    },
  };
}
