export { RedisStore, type RedisStoreOptions } from './redis_store';
