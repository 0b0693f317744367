export { RedisStore, type RedisStoreOptions } from './redis_store';
export { RedisLocks, type RedisLocksOptions } from './redis_locks';
