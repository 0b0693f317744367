/** What a bus tells the cache about its connection and messages. */
export interface BusHandlers {
  /** A message published by any instance (this one included; the cache filters its own). */
  message(payload: string): void;
  /** The subscription is live: from now on, no message is missed. */
  up(): void;
  /** The subscription is lost: messages may be missed until the next `up`. */
  down(): void;
}

/**
 * A broadcast channel between the instances of one cache, for L1 invalidation. Delivery is
 * best-effort; what a bus must do is say when it may have missed messages (`down`), so that the
 * cache stops trusting its L1 until it is `up` again.
 */
export interface Bus {
  /** Subscribes to `channel`. Resolves once subscribed (or on a failure, having called `down`). */
  start(channel: string, handlers: BusHandlers): Promise<void>;
  /** Publishes to every subscriber of `channel`. */
  publish(channel: string, payload: string): Promise<void>;
  /** Unsubscribes and closes the connections the bus opened. */
  close(): Promise<void>;
}
