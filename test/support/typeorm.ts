import { DataSource } from 'typeorm';
import type { Cache } from '../../src';
import { cachekitTypeOrm } from '../../src/typeorm';
import { DATABASE_URL, MYSQL_URL, requireMariaDb, requirePostgres } from './services';
import { openStack, type StackHandle, type StackKind } from './stacks';

/** The databases every TypeORM test runs on. */
export type Db = 'sqlite' | 'postgres' | 'mariadb';

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
  if (db === 'mariadb') await requireMariaDb();
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
      : db === 'mariadb'
        ? { type: 'mariadb', url: MYSQL_URL, ...common }
        : { type: 'postgres', url: DATABASE_URL, ...common },
  );
  await ds.initialize();
  return {
    ds,
    cache,
    stack,
    async close(tables) {
      if (db === 'postgres') for (const t of tables) await ds.query(`DROP TABLE IF EXISTS "${t}" CASCADE`);
      if (db === 'mariadb') await dropMariaDbTables(ds, tables);
      await ds.destroy();
      await stack.cleanup();
    },
  };
}

/** Drops tables on MariaDB, foreign-key checks off for this session so that the order does not matter. */
async function dropMariaDbTables(ds: DataSource, tables: readonly string[]): Promise<void> {
  if (tables.length === 0) return;
  const qr = ds.createQueryRunner();
  try {
    await qr.query('SET FOREIGN_KEY_CHECKS = 0');
    await qr.query(`DROP TABLE IF EXISTS ${tables.map((t) => `\`${t}\``).join(', ')}`);
    await qr.query('SET FOREIGN_KEY_CHECKS = 1');
  } finally {
    await qr.release();
  }
}
