export { loadConfig, type LoadConfigOptions } from './load_config';
export { cacheOptionsFromConfig, redisOptionsFromConfig, type RedisConnectionOptions } from './map_options';
export type { ConfigSource } from './source';
export type { ConfigEnv } from './interpolate';
export { CacheConfigFileError, type ConfigIssue } from './config_error';
export {
  EVICTION_POLICIES,
  type CachekitConfig,
  type CacheType,
  type ConnectionConfig,
  type EvictionConfig,
  type EvictionPolicy,
  type L1Config,
  type MonitoringConfig,
  type PoolConfig,
} from './types';
