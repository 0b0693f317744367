import type { PolicyOptions } from '../engine/options';

/** Which shared tier the config asks for; `memory` means L1 only. */
export type CacheType = 'redis' | 'memory' | 'keyv';

/** Redis `maxmemory-policy` values, as Redis documents them. */
export const EVICTION_POLICIES = [
  'noeviction',
  'allkeys-lru',
  'allkeys-lfu',
  'allkeys-random',
  'volatile-lru',
  'volatile-lfu',
  'volatile-random',
  'volatile-ttl',
] as const;

/** A Redis `maxmemory-policy`. */
export type EvictionPolicy = (typeof EVICTION_POLICIES)[number];

/** Where the Redis (or Keyv backend) is: `url`, or `host`/`port`, plus credentials. */
export interface ConnectionConfig {
  /** Host name or address; excludes `url`. */
  host?: string;
  /** TCP port, 1-65535; excludes `url`. */
  port?: number;
  /** Password (AUTH); an empty string in the file, e.g. from `${VAR:-}`, means none and is left out. */
  password?: string;
  /** Redis logical database number (`db` in ioredis). */
  database?: number;
  /** A `redis://` or `rediss://` URL, as an alternative to host and port. */
  url?: string;
  /** Connect with TLS. */
  tls?: boolean;
}

/** Connection pool settings (file key `pool`). */
export interface PoolConfig {
  /** Most connections. Validated and kept; ioredis multiplexes one connection, so nothing maps it. */
  maxConnections?: number;
  /** Fewest idle connections. Validated and kept; not mapped, as `maxConnections`. */
  minIdle?: number;
  /** Longest wait for a connection, in ms (file: `connection_timeout`, a bare number means seconds). */
  connectionTimeout?: number;
}

/** In-process tier settings (file key `l1`). */
export interface L1Config {
  /** Most entries kept (file: `max_entries`). */
  maxEntries?: number;
  /** Most bytes kept (file: `max_bytes`, bytes or `'64mb'`-style). */
  maxBytes?: number;
}

/** Redis server eviction settings (file key `eviction`); kept for deployment tooling, not applied by cachekit. */
export interface EvictionConfig {
  /** Redis `maxmemory-policy`. */
  policy?: EvictionPolicy;
  /** Redis `maxmemory`, in bytes (file: `max_memory`, bytes or `'1gb'`-style). */
  maxMemory?: number;
}

/** Observability settings (file key `monitoring`); kept for the application, not applied by cachekit. */
export interface MonitoringConfig {
  /** Export metrics (file: `metrics_enabled`). */
  metricsEnabled?: boolean;
  /** Log operations slower than this, in ms (file: `slow_log_threshold`, a bare number means seconds). */
  slowLogThreshold?: number;
}

/**
 * A validated config file, in the TypeScript API's names (camelCase) and units: every duration
 * here is in MILLISECONDS, although a bare number in the file means SECONDS (`3600` → `3_600_000`).
 * Turn it into engine options with `cacheOptionsFromConfig` and Redis options with `redisOptionsFromConfig`.
 */
export interface CachekitConfig {
  /** The shared tier to use; default `'memory'`. */
  type: CacheType;
  /** Key prefix (engine `prefix`). */
  prefix?: string;
  /** Where the shared store is. */
  connection?: ConnectionConfig;
  /** Connection pool settings. */
  pool?: PoolConfig;
  /** Default TTL in ms (file: `default_ttl`); engine `ttl`. */
  defaultTtl?: number;
  /** TTL of cached null/undefined in ms, or `false` not to cache them (file: `negative_ttl`). */
  negativeTtl?: number | false;
  /** In-process tier settings. */
  l1?: L1Config;
  /** Named policies, already in engine form (TTLs in ms, `sliding_ttl` → `sliding`, …). */
  policies: Record<string, PolicyOptions>;
  /** Redis server eviction settings. */
  eviction?: EvictionConfig;
  /** Observability settings. */
  monitoring?: MonitoringConfig;
}
