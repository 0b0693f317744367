export { CacheInvalidationSubscriber, type InvalidationOptions } from './invalidation_subscriber';
export { CachekitQueryResultCache } from './query_result_cache';
export { cachekitTypeOrm, registerInvalidation, type CachekitTypeOrm } from './setup';
export { CachedRepository, entityKey } from './entity_cache';
export { tableTag, rowTag, anyRowTag, entityName } from '../tags/naming';
export { startWriteBehind, TypeOrmWriteTarget } from './write_behind_flusher';
