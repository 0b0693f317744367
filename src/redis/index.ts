export { RedisStore, type RedisStoreOptions } from './redis_store';
export { RedisHeatStore, type RedisHeatStoreOptions } from './redis_heat_store';
export { RedisBus } from './redis_bus';
export { RedisLocks, type RedisLocksOptions } from './redis_locks';
export { RedisStreamQueue, type RedisStreamQueueOptions } from './redis_stream_queue';
