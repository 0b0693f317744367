export { Cache, type CacheHit, type CacheKey } from './cache';
export type {
  CacheOptions,
  CallOptions,
  EntryOptions,
  L1Options,
  L2Options,
  CompressionSettings,
  TagsOption,
} from './engine/options';
export type { Duration } from './engine/duration';
export { parseDuration } from './engine/duration';
export type { TtlOption } from './engine/ttl';
export type { LoadContext } from './engine/load_context';
export { currentLoad, watchLoads } from './engine/load_scope';
export type { Loader } from './engine/two_tier_handler';
export type { CacheStats } from './engine/stats';
export type { CacheEventMap, CacheEventName, CacheLayer } from './engine/events';
export type { DomainEventPayload } from './engine/domain_events';
export type { Serializer } from './engine/serializer';
export { jsonSerializer, msgpackSerializer } from './engine/serializer';
export { stableKey, argsKey } from './engine/keys';
export type { Store, StoreLocks, StoredValue, L2Read } from './stores/store';
export type { Bus, BusHandlers } from './stores/bus';
export { encryptionFromEnv, type EncryptionOptions } from './engine/encryption';
export { runWithTenant, currentTenant, type TenancyOptions } from './engine/tenancy';
export {
  CacheError,
  CacheConfigError,
  CacheKeyError,
  CacheReadonlyError,
  CacheSerializationError,
  CacheTimeoutError,
  CacheStoreError,
  CacheWriteError,
  CacheTenantError,
} from './errors';
export * from './decorators';
export { tableTag, rowTag, anyRowTag, entityName, type EntityRef } from './tags/naming';
export {
  Warming,
  warmMethod,
  CacheWarmError,
  type WarmingStats,
  type WarmingOptions,
  type WarmOptions,
  type ArgLists,
  type FunctionWarmer,
  type MethodName,
  type MethodWarmer,
  type Warmer,
  type WarmerTiming,
  type WarmContext,
  type WarmFunction,
  type WarmerResult,
  type WarmReason,
  type WarmReport,
  type WarmingEventMap,
  type WarmingEventName,
  type HeatEntry,
  type HeatStore,
  type ProgressStream,
  type ScheduleStats,
} from './warming';
export * from './write_behind';
