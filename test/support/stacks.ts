import { createKeyv } from '@keyv/redis';
import Redis from 'ioredis';
import { Cache, type CacheOptions } from '../../src';
import { KeyvStore } from '../../src/keyv';
import { RedisStore } from '../../src/redis';
import { deletePrefix, REDIS_URL, requireRedis, uniquePrefix } from './services';

/**
 * The stacks every shared behaviour runs on. `redis-script` is Redis-only with the store's tag
 * hints off, so every read takes the Lua path that `redis` only takes for unfamiliar keys.
 */
export type StackKind = 'memory' | 'redis' | 'redis-script' | 'keyv' | 'l1+redis';

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

  if (hasL2) {
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
    hasL1: kind === 'memory' || kind === 'l1+redis',
    hasL2,
    makeCache(options: CacheOptions = {}) {
      const cache = new Cache({
        prefix,
        tagVersionTtl: '1h',
        ...(hasL2 ? { l2: { store: storeFactory!() as never, timeout: '2s', writeTimeout: '2s' } } : {}),
        ...(kind === 'redis' || kind === 'redis-script' || kind === 'keyv' ? { l1: false } : {}),
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
