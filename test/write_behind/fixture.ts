import 'reflect-metadata';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { Cache } from '../../src';
import { cachekitTypeOrm, type CachekitTypeOrm } from '../../src/typeorm';
import { RedisStore } from '../../src/redis';
import Redis from 'ioredis';
import {
  DATABASE_URL,
  MYSQL_URL,
  REDIS_URL,
  requireMariaDb,
  requirePostgres,
  requireRedis,
  uniquePrefix,
} from '../support/services';

/** A PostgreSQL (or MariaDB) DataSource with the cachekit plugin, and the cache it uses. */
export interface WbDb {
  readonly ds: DataSource;
  readonly cache: Cache;
  readonly ck: CachekitTypeOrm;
  /** The Redis client of the cache's L2 (when it has one). */
  readonly redis: Redis | undefined;
  close(): Promise<void>;
}

/** Options of `openWbDb`. */
export interface WbDbOptions {
  /** The database; default PostgreSQL (`createAudit` needs it). */
  db?: 'postgres' | 'mariadb';
  /** Database URL (a proxy's, for outage tests). */
  url?: string;
  /** Cache key prefix; two instances of one "application" share it. Default a fresh one. */
  prefix?: string;
  /** Memory-only cache (no Redis L2). */
  memoryOnly?: boolean;
  /** Extra DataSource options (pool size…). */
  extra?: Partial<DataSourceOptions>;
}

/** Opens the database with `entities` and a cache (L1 + Redis unless memory-only). */
export async function openWbDb(entities: (new () => unknown)[], options: WbDbOptions = {}): Promise<WbDb> {
  const mariadb = options.db === 'mariadb';
  await (mariadb ? requireMariaDb() : requirePostgres());
  let redis: Redis | undefined;
  if (!options.memoryOnly) {
    await requireRedis();
    redis = new Redis(REDIS_URL);
  }
  const cache = new Cache({
    prefix: options.prefix ?? uniquePrefix('wb'),
    tagVersionTtl: '1h',
    ...(redis ? { l2: { store: new RedisStore({ client: redis }), timeout: '2s', writeTimeout: '2s' } } : {}),
  });
  const ck = cachekitTypeOrm(cache, { onError: (e) => console.error(e) });
  const ds = new DataSource({
    type: mariadb ? 'mariadb' : 'postgres',
    url: options.url ?? (mariadb ? MYSQL_URL : DATABASE_URL),
    entities,
    synchronize: true,
    subscribers: [ck.Subscriber],
    cache: { provider: ck.provider },
    ...(options.extra as object),
  } as DataSourceOptions);
  await ds.initialize();
  return {
    ds,
    cache,
    ck,
    redis,
    async close() {
      if (ds.isInitialized) await ds.destroy();
      await cache.close();
      if (redis) await redis.quit().catch(() => {});
    },
  };
}

/** Drops tables (and the audit function) by name. */
export async function dropTables(ds: DataSource, tables: readonly string[]): Promise<void> {
  // MySQL accepts and ignores CASCADE; the order of `tables` must respect foreign keys there.
  for (const t of tables) await ds.query(`DROP TABLE IF EXISTS ${ds.driver.escape(t)} CASCADE`);
}

/**
 * Records every INSERT and UPDATE of `table` in `${table}_audit` (id, rev): the number of times
 * the database applied each state, which duplicates would show.
 */
export async function createAudit(ds: DataSource, table: string, revColumn = 'rev'): Promise<string> {
  const audit = `${table}_audit`;
  const fn = `${table}_audit_fn`;
  await ds.query(
    `CREATE TABLE IF NOT EXISTS "${audit}" (seq serial PRIMARY KEY, id text NOT NULL, rev integer, op text NOT NULL)`,
  );
  await ds.query(
    `CREATE OR REPLACE FUNCTION "${fn}"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
      `IF TG_OP = 'DELETE' THEN INSERT INTO "${audit}"(id, rev, op) VALUES (OLD.id::text, NULL, TG_OP); RETURN OLD; END IF; ` +
      `INSERT INTO "${audit}"(id, rev, op) VALUES (NEW.id::text, NEW."${revColumn}", TG_OP); RETURN NEW; END $$`,
  );
  await ds.query(`DROP TRIGGER IF EXISTS "${table}_audit_tg" ON "${table}"`);
  await ds.query(
    `CREATE TRIGGER "${table}_audit_tg" AFTER INSERT OR UPDATE OR DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION "${fn}"()`,
  );
  return audit;
}

/** Drops what `createAudit` made. */
export async function dropAudit(ds: DataSource, table: string): Promise<void> {
  await ds.query(`DROP TABLE IF EXISTS "${table}_audit"`);
  await ds.query(`DROP FUNCTION IF EXISTS "${table}_audit_fn"() CASCADE`);
}
