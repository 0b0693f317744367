import { type DataSource, EventSubscriber, type ObjectLiteral, type Repository } from 'typeorm';
import { CachedRepository, writeThroughRow } from './entity_cache';
import type { QueryResultCache } from 'typeorm/cache/QueryResultCache.js';
import type { Cache } from '../cache';
import { CacheInvalidationSubscriber, type InvalidationOptions } from './invalidation_subscriber';
import { CachekitQueryResultCache } from './query_result_cache';

/** What `cachekitTypeOrm` returns: pieces to put in the DataSource options. */
export interface CachekitTypeOrm {
  /** The subscriber instance (the provider asks it which transactions have written). */
  readonly subscriber: CacheInvalidationSubscriber;
  /**
   * A class for the DataSource's `subscribers` option (TypeORM instantiates what it is given
   * there); constructing it yields `subscriber` itself.
   */
  readonly Subscriber: new () => CacheInvalidationSubscriber;
  /** Put it in `cache: { provider }`. */
  readonly provider: (dataSource: DataSource) => QueryResultCache;
  /** Entities by id through the cache, with write-through for entities whose policy asks for it. */
  repository<E extends ObjectLiteral>(repository: Repository<E>): CachedRepository<E>;
  /** Adds the subscriber to an initialized DataSource (initialize() replaces the subscriber list). */
  register(dataSource: DataSource): void;
}

/**
 * The TypeORM plugin in one call:
 * `new DataSource({ ..., subscribers: [ck.Subscriber], cache: { provider: ck.provider } })`,
 * or `ck.register(dataSource)` after `initialize()`.
 * Query results are stored under `typeorm:` keys of the cache's root namespace.
 */
export function cachekitTypeOrm(cache: Cache, options?: InvalidationOptions): CachekitTypeOrm {
  const subscriber = new CacheInvalidationSubscriber(cache, options);
  subscriber.writeThrough = (row) => writeThroughRow(cache, row);
  // Returning an object from a constructor makes `new Subscriber()` hand back the singleton.
  const Subscriber = function CachekitSubscriber() {
    return subscriber;
  } as unknown as new () => CacheInvalidationSubscriber;
  // TypeORM keeps only subscriber classes registered the way @EventSubscriber() registers them.
  EventSubscriber()(Subscriber);
  return {
    subscriber,
    Subscriber,
    repository: (repository) => new CachedRepository(cache, repository),
    provider: (dataSource) => new CachekitQueryResultCache(cache, dataSource, subscriber),
    register(dataSource) {
      if (!dataSource.subscribers.includes(subscriber)) dataSource.subscribers.push(subscriber);
    },
  };
}

/**
 * Registers automatic invalidation (and the entity cache's write-through) on an initialized
 * DataSource, without the query-cache provider. The same subscriber `cachekitTypeOrm` builds.
 */
export function registerInvalidation(
  dataSource: DataSource,
  cache: Cache,
  options?: InvalidationOptions,
): CacheInvalidationSubscriber {
  const ck = cachekitTypeOrm(cache, options);
  ck.register(dataSource);
  return ck.subscriber;
}
