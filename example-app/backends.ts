import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Redis from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { Cache, type WriteQueue } from '../src';
import { cacheOptionsFromConfig, loadConfig } from '../src/config';
import { RedisStore, RedisStreamQueue } from '../src/redis';
import type { CachekitTypeOrm } from '../src/typeorm';
import { ENTITIES } from './entities';

/** Where the shop keeps its data and its cache, and how to leave the servers as they were. */
export interface Backends {
  readonly cache: Cache;
  /** Human-readable: "SQLite (in memory) + in-memory cache". */
  readonly description: string;
  /** On shared servers: the schema, key prefix and queue name of this run (all removed on close). */
  readonly isolation: string | undefined;
  /** The write-behind queue: durable in Redis when there is one, else in memory (the default). */
  readonly writeQueue: WriteQueue | undefined;
  /** Opens the database with the cachekit plugin installed. */
  openDataSource(ck: CachekitTypeOrm): Promise<DataSource>;
  /** Closes the cache and removes this run's keys, schema and tables from shared servers. */
  close(): Promise<void>;
}

/**
 * The cache from `cache_config.yaml` plus the backends: SQLite in memory and an in-memory cache
 * by default; PostgreSQL (a `postgres://` DATABASE_URL) or MariaDB/MySQL (`mysql://`), and an L1
 * over Redis when REDIS_URL is set.
 * On shared servers this run gets its own key prefix, queue name and schema, all removed on close.
 */
export async function openBackends(): Promise<Backends> {
  const run = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const redisUrl = process.env.REDIS_URL;
  const databaseUrl = process.env.DATABASE_URL;
  const prefix = redisUrl ? `ckexample-${run}` : 'shop';
  const config = loadConfig(
    { path: join(__dirname, 'cache_config.yaml') },
    { env: { CACHE_PREFIX: prefix } },
  );

  const redis = redisUrl ? new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 }) : undefined;
  const cache = new Cache({
    ...cacheOptionsFromConfig(config),
    ...(redis ? { l2: new RedisStore({ client: redis }) } : {}),
  });
  const queueName = `ckexample-${run}`;
  const writeQueue = redis ? new RedisStreamQueue({ client: redis, name: queueName }) : undefined;
  const schema = `ckexample_${run}`;
  const mysql = databaseUrl !== undefined && /^(mysql|mariadb):/.test(databaseUrl);

  async function openDataSource(ck: CachekitTypeOrm): Promise<DataSource> {
    const common = {
      entities: ENTITIES,
      synchronize: true,
      subscribers: [ck.Subscriber],
      cache: { provider: ck.provider },
    };
    let options: DataSourceOptions;
    if (databaseUrl && mysql) {
      // A database of its own (MySQL's schemas are databases), dropped at exit.
      await withMysql(databaseUrl, (c) => c.query(`CREATE DATABASE IF NOT EXISTS \`${schema}\``));
      const url = new URL(databaseUrl);
      url.pathname = `/${schema}`;
      options = { type: 'mariadb', url: url.toString().replace(/^mariadb:/, 'mysql:'), ...common };
    } else if (databaseUrl) {
      // A schema of its own: the shop's tables never meet another user's tables on a shared server.
      await withPg(databaseUrl, (pg) => pg.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`));
      options = { type: 'postgres', url: databaseUrl, schema, ...common };
    } else {
      options = { type: 'better-sqlite3', database: ':memory:', ...common };
    }
    const ds = new DataSource(options);
    await ds.initialize();
    dataSource = ds;
    return ds;
  }
  let dataSource: DataSource | undefined;

  return {
    cache,
    writeQueue,
    isolation:
      databaseUrl || redis
        ? [databaseUrl && `schema ${schema}`, redis && `key prefix ${prefix}, queue ${queueName}`]
            .filter(Boolean)
            .join(', ')
        : undefined,
    description: `${databaseUrl ? (mysql ? 'MariaDB' : 'PostgreSQL') : 'SQLite (in memory)'} + ${redis ? 'L1 + Redis' : 'in-memory cache'}`,
    openDataSource,
    async close() {
      if (dataSource?.isInitialized) await dataSource.destroy();
      await cache.close();
      if (databaseUrl && mysql)
        await withMysql(databaseUrl, (c) => c.query(`DROP DATABASE IF EXISTS \`${schema}\``));
      else if (databaseUrl)
        await withPg(databaseUrl, (pg) => pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
      if (redis) {
        await deleteMatching(redis, `*${prefix}*`);
        await deleteMatching(redis, `*${queueName}*`);
        await redis.quit();
      }
    },
  };
}

async function withPg<T>(url: string, fn: (pg: Client) => Promise<T>): Promise<T> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    return await fn(pg);
  } finally {
    await pg.end();
  }
}

async function withMysql<T>(
  url: string,
  fn: (c: Awaited<ReturnType<typeof createConnection>>) => Promise<T>,
): Promise<T> {
  const c = await createConnection(url.replace(/^mariadb:/, 'mysql:'));
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Removes this run's keys at shutdown (a one-off SCAN, never on a request path). */
async function deleteMatching(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
