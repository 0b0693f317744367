import type { RedisOptions } from 'ioredis';
import type { CacheOptions, PolicyOptions } from '../engine/options';
import { compact } from './compact';
import type { CachekitConfig } from './types';

/** Arguments for `new RedisStore(...)` from `cachekit/redis` (or for `new Redis(url, redis)`). */
export interface RedisConnectionOptions {
  /** The server's URL; set whenever the config names a url, host or port. */
  url?: string;
  /** ioredis options: credentials, database, TLS and connect timeout. */
  redis: RedisOptions;
}

/**
 * Engine options for `new Cache(...)` from a loaded config: prefix, default TTLs, L1 limits and
 * policies (all durations already in ms). It creates no store: for `type: redis` add
 * `l2: new RedisStore(redisOptionsFromConfig(config))`, for `keyv` your `KeyvStore`.
 */
export function cacheOptionsFromConfig(config: CachekitConfig): CacheOptions {
  const policies: Record<string, PolicyOptions> = {};
  for (const [name, p] of Object.entries(config.policies)) {
    // Copies, so that a caller changing the options does not change the loaded config.
    policies[name] = compact({
      ...p,
      tags: Array.isArray(p.tags) ? [...p.tags] : p.tags,
      invalidateOn: p.invalidateOn ? [...p.invalidateOn] : undefined,
    });
  }
  return compact({
    prefix: config.prefix,
    ttl: config.defaultTtl,
    negativeTtl: config.negativeTtl,
    l1: config.l1 ? compact({ maxEntries: config.l1.maxEntries, maxBytes: config.l1.maxBytes }) : undefined,
    policies,
  });
}

/**
 * Options for `new RedisStore(...)` from a `type: redis` config, or `undefined` for any other type.
 * Maps host, port, password, database (`db`), tls and pool.connection_timeout (`connectTimeout`).
 * pool.max_connections and min_idle have no ioredis equivalent (it multiplexes one connection).
 *
 * Host and port are also given as `url`, because RedisStore passes ioredis a URL (REDIS_URL or
 * localhost when none is given) and ioredis lets a URL's host win over the options' host.
 */
export function redisOptionsFromConfig(config: CachekitConfig): RedisConnectionOptions | undefined {
  if (config.type !== 'redis') return undefined;
  const c = config.connection ?? {};
  const redis: RedisOptions = compact({
    host: c.host,
    port: c.port,
    password: c.password,
    db: c.database,
    tls: c.tls ? {} : undefined,
    connectTimeout: config.pool?.connectionTimeout,
  });
  let url = c.url;
  if (url === undefined && (c.host !== undefined || c.port !== undefined)) {
    const host = c.host ?? 'localhost';
    // An IPv6 address needs brackets in a URL.
    url = `${c.tls ? 'rediss' : 'redis'}://${host.includes(':') ? `[${host}]` : host}:${c.port ?? 6379}`;
  }
  return url === undefined ? { redis } : { url, redis };
}
