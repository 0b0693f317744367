export { RedisStore, type RedisStoreOptions } from './redis_store';
export { RedisStreamQueue, type RedisStreamQueueOptions } from './redis_stream_queue';
