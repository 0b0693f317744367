import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { DataSource, QueryRunner } from 'typeorm';
import type { QueryResultCache } from 'typeorm/cache/QueryResultCache.js';
import type { QueryResultCacheOptions } from 'typeorm/cache/QueryResultCacheOptions.js';
import type { Cache } from '../cache';
import { currentLoad, watchLoads } from '../engine/load_scope';
import { tableTag } from '../tags/naming';
import { type CacheInvalidationSubscriber, tablesOf } from './invalidation_subscriber';
import { readTables } from './sql_writes';

/**
 * TypeORM's query-result cache (`find({ cache: true })`, `.cache(ms)`, `.cache(id, ms)`) on
 * cachekit. Each result is tagged with every known table its SQL names, so the invalidation
 * subscriber drops it when any of them is written; TypeORM's own cache never invalidates.
 *
 * TypeORM reads and stores in two calls with the query in between, so the version is captured
 * at the read and handed to the store: a write that commits during the query leaves the stored
 * result already stale (the stale-set race). Inside a transaction that has written, reads and
 * stores bypass the cache, so the transaction sees its own writes and never caches them.
 */
export class CachekitQueryResultCache implements QueryResultCache {
  /** Versions captured by misses, by cache key, until the matching store. */
  private readonly captured = new Map<string, number>();

  constructor(
    private readonly cache: Cache,
    private readonly dataSource: DataSource,
    private readonly subscriber?: CacheInvalidationSubscriber,
  ) {
    watchLoads();
  }

  async connect(): Promise<void> {}

  async disconnect(): Promise<void> {}

  async synchronize(): Promise<void> {}

  async getFromCache(
    options: QueryResultCacheOptions,
    queryRunner?: QueryRunner,
  ): Promise<QueryResultCacheOptions | undefined> {
    if (this.subscriber?.hasPendingWrites(queryRunner)) return undefined;
    const key = keyOf(options);
    if (key === undefined) return undefined;
    const hit = await this.cache.getEntry<string>(key);
    if (hit !== undefined) {
      // A cached loader reading through the query cache still depends on the tables it names.
      const load = currentLoad();
      if (load !== undefined) {
        const tables = readTables(options.query ?? '', tablesOf(this.dataSource));
        if (tables.length > 0) load.addTags(...tables.map((m) => tableTag(m.name)));
      }
      // Freshness is cachekit's business (TTL and tags); tell TypeORM the entry is current.
      return {
        identifier: options.identifier,
        query: options.query,
        time: Date.now(),
        duration: options.duration,
        result: hit.value,
      };
    }
    const v = await this.cache.captureVersion();
    const prev = this.captured.get(key);
    // Concurrent misses of one query: keep the oldest capture, the one that can be stale.
    this.captured.set(key, prev === undefined ? v : Math.min(prev, v));
    return undefined;
  }

  async storeInCache(
    options: QueryResultCacheOptions,
    _saved: unknown,
    queryRunner?: QueryRunner,
  ): Promise<void> {
    const key = keyOf(options);
    if (key === undefined) return;
    const since = this.captured.get(key);
    this.captured.delete(key);
    // No capture (the read bypassed the cache, or failed): storing could hide a concurrent write.
    if (since === undefined || this.subscriber?.hasPendingWrites(queryRunner)) return;
    const tables = readTables(options.query ?? '', tablesOf(this.dataSource));
    await this.cache.set(key, options.result, {
      ttl: Math.max(1, options.duration),
      tags: [QUERY_RESULTS_TAG, ...tables.map((m) => tableTag(m.name))],
      since,
    });
  }

  isExpired(saved: QueryResultCacheOptions): boolean {
    return (saved.time ?? 0) + saved.duration < Date.now();
  }

  /** Empties the query cache by one tag bump: never FLUSHDB, never a scan. */
  async clear(): Promise<void> {
    await this.cache.invalidateTags([QUERY_RESULTS_TAG]);
  }

  async remove(identifiers: string[]): Promise<void> {
    await Promise.all(identifiers.map((id) => this.cache.delete(`typeorm:${id}`)));
  }
}

/** Every query result carries this tag, so that `clear()` drops them all and nothing else. */
export const QUERY_RESULTS_TAG = 'typeorm:queries';

const PARAMETERS = '-- PARAMETERS: ';
/** Digests of SQL texts seen, so a query's key costs a Map lookup, not a hash, per call. */
const sqlDigests = new LRUCache<string, string>({ max: 1000 });

/**
 * The cache key of a query. TypeORM's own key is the SQL text plus its parameters, often
 * several hundred characters, which the engine would hash on every call (bench/find_one.ts: a
 * 418-character `findOne` key cost ~3.4 µs of SHA-256 per hit, and raising the limit made hits
 * 20-46% faster). The SQL part repeats across calls, so its digest is memoized; the
 * parameters stay readable.
 */
function keyOf(options: QueryResultCacheOptions): string | undefined {
  // Query results share the cache's root namespace with everything else: the subscriber's
  // table tags must reach them, and tags are namespaced.
  if (options.identifier !== undefined) return `typeorm:${options.identifier}`;
  const q = options.query;
  if (q === undefined) return undefined;
  if (q.length <= 120) return `typeorm:${q}`;
  const at = q.lastIndexOf(PARAMETERS);
  const sql = at === -1 ? q : q.slice(0, at);
  let digest = sqlDigests.get(sql);
  if (digest === undefined) {
    digest = createHash('sha256').update(sql).digest('base64url').slice(0, 27);
    sqlDigests.set(sql, digest);
  }
  return at === -1 ? `typeorm:q:${digest}` : `typeorm:q:${digest}:${q.slice(at + PARAMETERS.length)}`;
}
