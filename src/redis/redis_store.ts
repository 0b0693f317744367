import Redis, { type Cluster, type RedisOptions } from 'ioredis';
import type { L2Read, Store, StoredValue } from '../stores/store';
import { INVALIDATE_SCRIPT, READ_SCRIPT, TOUCH_SCRIPT } from './scripts';

/** Options of `RedisStore`: an ioredis client you own, or how to make one the store owns. */
export interface RedisStoreOptions {
  /** An existing ioredis client; the store does not close it. */
  client?: Redis | Cluster;
  /** A `redis://` URL for a client the store creates and closes. Default `REDIS_URL` or `redis://127.0.0.1:6379`. */
  url?: string;
  /** Extra ioredis options for a client the store creates. */
  redis?: RedisOptions;
}

interface ScriptedClient {
  cachekitRead(entry: string, seq: string): Promise<[number, ...(Buffer | number | null)[]]>;
  cachekitInvalidate(numKeys: number, ...args: (string | number)[]): Promise<number>;
  cachekitTouch(entry: string, ttl: number): Promise<number>;
}

/**
 * L2 on Redis via ioredis. A hit costs one round trip, tag check included (a Lua script);
 * invalidation is one INCR plus one SET per tag, in one script.
 */
export class RedisStore implements Store {
  readonly name = 'redis';
  /** The ioredis client in use. */
  readonly client: Redis | Cluster;
  private readonly owned: boolean;
  private readonly scripted: ScriptedClient;

  constructor(options: RedisStoreOptions = {}) {
    if (options.client) {
      this.client = options.client;
      this.owned = false;
    } else {
      const url = options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
      // A cache must fail fast rather than queue: one retry per command, then the engine's
      // timeout and fallback to the loader take over.
      this.client = new Redis(url, { maxRetriesPerRequest: 1, ...options.redis });
      this.owned = true;
    }
    const c = this.client as unknown as { cachekitRead?: unknown };
    if (typeof c.cachekitRead !== 'function') {
      // Buffer variants (`…Buffer`) keep binary payloads intact; defineCommand handles EVALSHA/NOSCRIPT.
      this.client.defineCommand('cachekitRead', { numberOfKeys: 2, lua: READ_SCRIPT });
      this.client.defineCommand('cachekitInvalidate', { lua: INVALIDATE_SCRIPT });
      this.client.defineCommand('cachekitTouch', { numberOfKeys: 1, lua: TOUCH_SCRIPT });
    }
    const client = this.client as unknown as Record<string, (...a: unknown[]) => Promise<never>>;
    this.scripted = {
      cachekitRead: (entry, seq) => client.cachekitReadBuffer(entry, seq),
      cachekitInvalidate: (n, ...args) => client.cachekitInvalidate(n, ...args),
      cachekitTouch: (entry, ttl) => client.cachekitTouch(entry, ttl),
    };
  }

  async readValidated(key: string, seqKey: string): Promise<L2Read> {
    const r = await this.scripted.cachekitRead(key, seqKey);
    switch (r[0]) {
      case 1:
        return { kind: 'hit', data: r[1] as Buffer, remainingMs: ttlOf(r[2] as number) };
      case 2:
        return { kind: 'stale', seq: seqOf(r[1]), data: r[2] as Buffer, remainingMs: ttlOf(r[3] as number) };
      default:
        return { kind: 'miss', seq: seqOf(r[1]) };
    }
  }

  async get(key: string): Promise<StoredValue | undefined> {
    const r = await this.client.multi().getBuffer(key).pttl(key).exec();
    const data = r?.[0]?.[1] as Buffer | null;
    if (!data) return undefined;
    return { data, remainingMs: ttlOf(r![1][1] as number) };
  }

  async set(key: string, data: Buffer, ttlMs: number): Promise<void> {
    await this.client.set(key, data, 'PX', Math.max(1, Math.ceil(ttlMs)));
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    // One DEL per key: multi-key DEL would cross hash slots on Cluster.
    if (keys.length === 1) await this.client.del(keys[0]);
    else await Promise.all(keys.map((k) => this.client.del(k)));
  }

  async touch(key: string, ttlMs: number): Promise<void> {
    await this.client.pexpire(key, Math.max(1, Math.ceil(ttlMs)));
  }

  async touchValidated(key: string, ttlMs: number): Promise<void> {
    await this.scripted.cachekitTouch(key, Math.max(1, Math.ceil(ttlMs)));
  }

  async getVersions(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const vs = await this.client.mget(...keys);
    return vs.map((v) => (v === null ? 0 : Number(v)));
  }

  async captureSeq(seqKey: string): Promise<number> {
    const v = await this.client.get(seqKey);
    return v === null ? 0 : Number(v);
  }

  async invalidate(seqKey: string, tagKeys: readonly string[], versionTtlMs: number): Promise<number> {
    return this.scripted.cachekitInvalidate(1 + tagKeys.length, seqKey, ...tagKeys, Math.ceil(versionTtlMs));
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    if (this.client.status !== 'ready') {
      // QUIT would wait in the offline queue for a server that may never come back.
      this.client.disconnect();
      return;
    }
    const timer = setTimeout(() => this.client.disconnect(), 1000);
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    } finally {
      clearTimeout(timer);
    }
  }
}

function seqOf(v: unknown): number | undefined {
  if (v === null || v === undefined || v === false) return 0;
  const n = Number(Buffer.isBuffer(v) ? v.toString() : v);
  return Number.isFinite(n) ? n : undefined;
}

function ttlOf(pttl: number): number {
  // -1: no expiry (not written by cachekit); -2: gone between GET and PTTL (cannot happen in a script).
  return pttl >= 0 ? pttl : pttl === -1 ? Infinity : 0;
}
