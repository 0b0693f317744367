/** One recorded call and how often it was made. */
export interface HeatEntry {
  /** The encoded call (class, method and arguments), as the recorder wrote it. */
  readonly member: string;
  /** Its access count, summed over every process that flushed it. */
  readonly count: number;
}

/**
 * Where replay warming keeps the hottest calls, shared by every process on a cache prefix.
 * `RedisHeatStore` from `cachekit/redis` implements it with a bounded sorted set.
 */
export interface HeatStore {
  /**
   * Adds `counts` to the members of the set at `key`, then keeps only the `capacity` hottest
   * members and lets the set expire `ttlMs` after this call.
   */
  add(key: string, counts: ReadonlyMap<string, number>, capacity: number, ttlMs: number): Promise<void>;
  /** The `limit` hottest members of the set at `key`, hottest first. */
  top(key: string, limit: number): Promise<HeatEntry[]>;
  /** Releases a connection the store opened itself. */
  close?(): Promise<void>;
}
