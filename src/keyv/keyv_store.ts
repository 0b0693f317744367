import type Keyv from 'keyv';
import { type Duration, parseDuration } from '../engine/duration';
import type { Store, StoredValue } from '../stores/store';

/** Options of `KeyvStore`. */
export interface KeyvStoreOptions {
  /**
   * Keyv has no atomic counter, so tag versions on Keyv are timestamps, and a version counts
   * only once it is this much older than a load: how far apart your servers' clocks may be.
   * Entries loaded within this window after an invalidation are not reused (a few extra loads,
   * never a stale read). Default `'100ms'`; use 0 for a single process.
   */
  clockSkew?: Duration;
}

/**
 * L2 on any Keyv 5 store (`@keyv/redis`, `@keyv/postgres`, …). Entries are stored as base64
 * strings so that any adapter keeps binary payloads intact. A hit costs two round trips
 * (entry, then tag versions); use `RedisStore` for one.
 *
 * The store turns on `throwOnErrors` on the Keyv it is given: without it Keyv reports a failed
 * read as a miss, and cachekit could neither count the failure nor open a breaker on it.
 */
export class KeyvStore implements Store {
  readonly name = 'keyv';
  private readonly skewUs: number;
  private lastStamp = 0;

  constructor(
    /** The Keyv instance; the store closes its adapter's connection on `close()` only if asked. */
    readonly keyv: Keyv,
    options: KeyvStoreOptions = {},
  ) {
    this.skewUs = parseDuration('clockSkew', options.clockSkew ?? 100, true) * 1000;
    keyv.throwOnErrors = true;
    // Keyv also emits failures as events; an unheard 'error' event would crash the process.
    keyv.on('error', () => {});
  }

  async get(key: string): Promise<StoredValue | undefined> {
    const raw = await this.keyv.getRaw<string>(key);
    if (raw === undefined || typeof raw.value !== 'string') return undefined;
    const remainingMs = typeof raw.expires === 'number' ? raw.expires - Date.now() : Infinity;
    if (remainingMs <= 0) return undefined;
    return { data: Buffer.from(raw.value, 'base64'), remainingMs };
  }

  async set(key: string, data: Buffer, ttlMs: number): Promise<void> {
    const ok = await this.keyv.set(key, data.toString('base64'), Math.max(1, Math.ceil(ttlMs)));
    if (ok === false) throw new Error('Keyv refused the write');
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 1) await this.keyv.delete(keys[0]);
    else if (keys.length > 1) await this.keyv.deleteMany([...keys]);
  }

  async touch(key: string, ttlMs: number): Promise<void> {
    // Keyv has no expire command: rewrite the value with the new TTL.
    const raw = await this.keyv.getRaw<string>(key);
    if (raw?.value !== undefined) await this.keyv.set(key, raw.value, Math.max(1, Math.ceil(ttlMs)));
  }

  async getVersions(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const vs = await this.keyv.getMany<number>([...keys]);
    return vs.map((v) => (typeof v === 'number' ? v : v === undefined || v === null ? 0 : Number(v)));
  }

  async captureSeq(): Promise<number> {
    return this.now() - this.skewUs;
  }

  async invalidate(_seqKey: string, tagKeys: readonly string[], versionTtlMs: number): Promise<number> {
    const v = this.stamp();
    const ttl = Math.ceil(versionTtlMs);
    const results = await this.keyv.setMany(tagKeys.map((key) => ({ key, value: v, ttl })));
    // Some adapters resolve setMany to nothing; a refusal shows as an explicit false.
    if (Array.isArray(results) && results.some((ok) => ok === false))
      throw new Error('Keyv refused a tag version write');
    return v;
  }

  async close(): Promise<void> {
    await this.keyv.disconnect?.();
  }

  /** Microseconds since the epoch: a timestamp fine enough to order invalidations and loads. */
  private now(): number {
    return Math.floor((performance.timeOrigin + performance.now()) * 1000);
  }

  /** A strictly increasing stamp, so two invalidations in one process never share a version. */
  private stamp(): number {
    const t = this.now();
    this.lastStamp = t > this.lastStamp ? t : this.lastStamp + 1;
    return this.lastStamp;
  }
}
