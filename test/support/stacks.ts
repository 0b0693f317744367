import { createKeyv } from '@keyv/redis';
import Redis from 'ioredis';
import { Cache, type CacheOptions } from '../../src';
import { KeyvStore } from '../../src/keyv';
import { RedisStore } from '../../src/redis';
import { deletePrefix, REDIS_URL, requireRedis, uniquePrefix } from './services';
import { startCluster, type PrivateCluster } from './cluster';

/**
 * The stacks every shared behaviour runs on. `redis-script` is Redis-only with the store's tag
 * hints off, so every read takes the Lua path that `redis` only takes for unfamiliar keys.
 * The `redis-cluster` kinds run on a private 3-master Redis Cluster spawned for the test file.
 */
export type StackKind =
  'memory' | 'redis' | 'redis-script' | 'keyv' | 'l1+redis' | 'redis-cluster' | 'l1+redis-cluster';

/** The test file's cluster, started by its first cluster stack and stopped when the last one closes. */
let cluster: { started: Promise<PrivateCluster>; users: number } | undefined;

async function acquireCluster(): Promise<PrivateCluster> {
  cluster ??= { started: startCluster(3), users: 0 };
  cluster.users++;
  return cluster.started;
}

async function releaseCluster(): Promise<void> {
  const c = cluster;
  if (c === undefined || --c.users > 0) return;
  cluster = undefined;
  await (await c.started).stop();
}

/** Caches of one stack that share an L2 (when there is one) and a key prefix. */
export interface StackHandle {
  readonly kind: StackKind;
  readonly hasL1: boolean;
  readonly hasL2: boolean;
  /** A cache on this stack. Caches made by one handle share L2 data, each with its own L1. */
  makeCache(options?: CacheOptions): Cache;
  /** Closes every cache and removes the test's keys. */
  cleanup(): Promise<void>;
}

/** Opens a stack for one test file; `name` keeps its keys apart from every other test. */
export async function openStack(kind: StackKind, name: string): Promise<StackHandle> {
  const prefix = uniquePrefix(`${kind.replace('+', '')}-${name}`);
  const caches: Cache[] = [];
  const hasL2 = kind !== 'memory';
  let admin: Redis | undefined;
  let storeFactory: (() => CacheOptions['l2']) | undefined;
  const closers: (() => Promise<void>)[] = [];

  const onCluster = kind === 'redis-cluster' || kind === 'l1+redis-cluster';
  if (onCluster) {
    const nodes = await acquireCluster();
    const client = nodes.client();
    const store = new RedisStore({ client });
    storeFactory = () => store;
    closers.push(async () => void (await client.quit()));
    // The cluster goes away with its keys.
    closers.push(releaseCluster);
  } else if (hasL2) {
    await requireRedis();
    admin = new Redis(REDIS_URL);
    if (kind === 'keyv') {
      const keyv = createKeyv(REDIS_URL);
      // One process: no clock skew between invalidator and loader (the skew window has its own test).
      const store = new KeyvStore(keyv, { clockSkew: 0 });
      storeFactory = () => store;
      closers.push(() => store.close());
    } else {
      const client = new Redis(REDIS_URL);
      const store = new RedisStore({ client, tagHints: kind === 'redis-script' ? 0 : undefined });
      storeFactory = () => store;
      closers.push(async () => void (await client.quit()));
    }
  }

  return {
    kind,
    hasL1: kind === 'memory' || kind === 'l1+redis' || kind === 'l1+redis-cluster',
    hasL2,
    makeCache(options: CacheOptions = {}) {
      const cache = new Cache({
        prefix,
        tagVersionTtl: '1h',
        ...(hasL2 ? { l2: { store: storeFactory!() as never, timeout: '2s', writeTimeout: '2s' } } : {}),
        ...(kind === 'redis' || kind === 'redis-script' || kind === 'keyv' || kind === 'redis-cluster'
          ? { l1: false }
          : {}),
        ...options,
      });
      caches.push(cache);
      return cache;
    },
    async cleanup() {
      for (const c of caches) await c.close().catch(() => {});
      for (const close of closers) await close().catch(() => {});
      if (admin) {
        await deletePrefix(admin, prefix);
        await admin.quit();
      }
    },
  };
}
