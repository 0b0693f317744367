import Redis, { type Cluster, type RedisOptions } from 'ioredis';
import { closeClient } from './close_client';
import { connect } from './connection';
import type { HeatEntry, HeatStore } from '../warming/heat_store';

/** Options of `RedisHeatStore`: an ioredis client you own (e.g. `redisStore.client`), or how to make one. */
export interface RedisHeatStoreOptions {
  /** An existing ioredis client; the store does not close it. */
  client?: Redis | Cluster;
  /** A `redis://` URL for a client the store creates and closes. Default `REDIS_URL` or `redis://127.0.0.1:6379`. */
  url?: string;
  /** Extra ioredis options for a client the store creates. */
  redis?: RedisOptions;
}

/**
 * The heat of replay warming in a Redis sorted set: member = an encoded call, score = its
 * access count. A flush is one MULTI: ZINCRBY per distinct call, ZREMRANGEBYRANK to keep the
 * `capacity` hottest, PEXPIRE. The set is bounded, so memory in Redis is too.
 *
 * ```ts
 * const store = new RedisStore({ url });
 * const cache = new Cache({ l2: store, warming: { heatStore: new RedisHeatStore({ client: store.client }) } });
 * ```
 */
export class RedisHeatStore implements HeatStore {
  /** The ioredis client in use. */
  readonly client: Redis | Cluster;
  private readonly owned: boolean;

  constructor(options: RedisHeatStoreOptions = {}) {
    ({ client: this.client, owned: this.owned } = connect(options));
  }

  async add(
    key: string,
    counts: ReadonlyMap<string, number>,
    capacity: number,
    ttlMs: number,
  ): Promise<void> {
    if (counts.size === 0) return;
    const m = this.client.multi();
    for (const [member, n] of counts) m.zincrby(key, n, member);
    // Ranks ascend with the score: dropping 0 … -(capacity+1) keeps the `capacity` hottest.
    m.zremrangebyrank(key, 0, -(capacity + 1));
    m.pexpire(key, Math.max(1, Math.ceil(ttlMs)));
    const replies = await m.exec();
    const failed = replies?.find(([err]) => err);
    if (failed) throw failed[0];
    if (replies === null) throw new Error(`MULTI on ${key} was aborted`);
  }

  async top(key: string, limit: number): Promise<HeatEntry[]> {
    const flat = await this.client.zrevrange(key, 0, limit - 1, 'WITHSCORES');
    const out: HeatEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ member: flat[i], count: Number(flat[i + 1]) });
    return out;
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    await closeClient(this.client);
  }
}
