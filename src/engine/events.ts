import { EventEmitter } from 'node:events';
import type { CacheError } from '../errors';

/** Which tier answered. */
export type CacheLayer = 'l1' | 'l2';

/** Payloads of the events a `Cache` emits. */
export interface CacheEventMap {
  hit: { key: string; layer: CacheLayer };
  miss: { key: string };
  set: { key: string; ttlMs: number };
  delete: { key: string };
  /** A loader ran (a miss or a background refresh) for `ms` milliseconds; `ok` is false when it threw. */
  load: { key: string; ms: number; ok: boolean };
  invalidate: { tags: readonly string[]; namespace: string };
  /** The L2 circuit breaker changed state. */
  circuit: { state: 'closed' | 'open' | 'half-open' };
  /** A failure the caller did not see (its call still succeeded); `operation` says what failed. */
  error: { error: CacheError; operation: string; key?: string };
}

/** Names of the events a `Cache` emits. */
export type CacheEventName = keyof CacheEventMap;

/**
 * A typed emitter that knows, without a lookup, whether anyone listens to `hit` or `miss`,
 * so that the L1 hit path builds no event object when nobody is listening.
 */
export class CacheEvents {
  private readonly emitter = new EventEmitter();
  /** True while at least one `hit` listener is attached. */
  hasHit = false;
  /** True while at least one `miss` listener is attached. */
  hasMiss = false;

  /** Subscribes to an event. */
  on<E extends CacheEventName>(event: E, listener: (payload: CacheEventMap[E]) => void): void {
    this.emitter.on(event, listener);
    this.refresh();
  }

  /** Subscribes to one occurrence of an event. */
  once<E extends CacheEventName>(event: E, listener: (payload: CacheEventMap[E]) => void): void {
    this.emitter.once(event, (p: CacheEventMap[E]) => {
      listener(p);
      this.refresh();
    });
    this.refresh();
  }

  /** Unsubscribes. */
  off<E extends CacheEventName>(event: E, listener: (payload: CacheEventMap[E]) => void): void {
    this.emitter.off(event, listener);
    this.refresh();
  }

  /** Emits an event; listener exceptions are contained so they cannot break a cache call. */
  emit<E extends CacheEventName>(event: E, payload: CacheEventMap[E]): void {
    // Node throws on an 'error' event nobody listens to; for a cache that would turn a
    // survivable L2 failure into a crash, so unheard errors are only counted.
    if (this.emitter.listenerCount(event) === 0) return;
    try {
      this.emitter.emit(event, payload);
    } catch {
      // A throwing listener is the listener's bug; the cache call must still succeed.
    }
  }

  /** Removes every listener. */
  removeAll(): void {
    this.emitter.removeAllListeners();
    this.refresh();
  }

  private refresh(): void {
    this.hasHit = this.emitter.listenerCount('hit') > 0;
    this.hasMiss = this.emitter.listenerCount('miss') > 0;
  }
}
