import { randomUUID } from 'node:crypto';
import type { Cache } from '../../src';

/** A signed-in visitor. */
export interface Session {
  token: string;
  userId: number;
  cart: number[];
}

/**
 * Sessions live only in the cache, under the sliding `session` policy: every read resets the 30
 * minutes, so an active visitor stays signed in and an idle one is signed out.
 */
export class SessionService {
  constructor(private readonly cache: Cache) {}

  /** Starts a session for `userId`. */
  async start(userId: number): Promise<Session> {
    const s: Session = { token: randomUUID(), userId, cart: [] };
    await this.cache.set(['session', s.token], s, { policy: 'session' });
    return s;
  }

  /** The session, its TTL reset by this read; `undefined` when it expired or never existed. */
  async get(token: string): Promise<Session | undefined> {
    return this.cache.get<Session>(['session', token]);
  }

  /** Adds a product to the session's cart. */
  async addToCart(token: string, productId: number): Promise<Session | undefined> {
    const s = await this.get(token);
    if (!s) return undefined;
    s.cart.push(productId);
    await this.cache.set(['session', token], s, { policy: 'session' });
    return s;
  }
}
