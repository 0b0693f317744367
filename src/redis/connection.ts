import Redis, { type Cluster, type RedisOptions } from 'ioredis';

/** How a Redis-backed part is given its connection. */
export interface ConnectionOptions {
  client?: Redis | Cluster;
  url?: string;
  redis?: RedisOptions;
}

/**
 * The caller's client (which the part must not close), or a client the part opens from `url`
 * (default `REDIS_URL`, then the local server) and owns. Owned clients retry a command once: a
 * cache part must fail fast rather than queue, and let its timeout and fallback take over.
 */
export function connect(options: ConnectionOptions): { client: Redis | Cluster; owned: boolean } {
  if (options.client) return { client: options.client, owned: false };
  const url = options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  return { client: new Redis(url, { maxRetriesPerRequest: 1, ...options.redis }), owned: true };
}
