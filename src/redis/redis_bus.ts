import type Redis from 'ioredis';
import { closeClient } from './close_client';
import type { Cluster } from 'ioredis';
import type { Bus, BusHandlers } from '../stores/bus';
import { TickPipeline } from './tick_pipeline';

/**
 * The L1 invalidation bus on Redis pub/sub: publishes on the store's client, listens on a
 * dedicated connection (a subscribed connection can do nothing else). It reports `down` as soon
 * as that connection closes and `up` only once the channel is subscribed again, so the cache
 * never trusts its L1 across a gap in which messages could have been missed.
 */
export class RedisBus implements Bus {
  private sub: Redis | Cluster | undefined;
  private subscribed = false;
  private closed = false;

  constructor(
    /** The client messages are published on. */
    readonly client: Redis | Cluster,
    /** Publishes of one tick go out together (shared with the store's writes when given). */
    private readonly writes: TickPipeline = new TickPipeline(client),
  ) {}

  async start(channel: string, handlers: BusHandlers): Promise<void> {
    // Resubscription is ours to do, so that `up` is said only after the SUBSCRIBE reply.
    const options = { autoResubscribe: false, maxRetriesPerRequest: 1 };
    // Cluster#duplicate takes startup nodes first: options given alone would be dropped.
    const client = this.client as Redis & { isCluster?: boolean };
    const sub = (this.sub = (
      client.isCluster === true
        ? (this.client as Cluster).duplicate([], options as never)
        : client.duplicate(options)
    ) as Redis | Cluster);
    sub.on('error', () => {
      // Connection errors surface as 'close'; the store reports its own.
    });
    // The bus alone must not keep a process alive (an app that forgets close() still exits);
    // the store's own connection decides that, as it did without a bus.
    sub.on('connect', () => (sub as unknown as { stream?: { unref?(): void } }).stream?.unref?.());
    sub.on('message', (ch: string, payload: string) => {
      if (ch === channel) handlers.message(payload);
    });
    sub.on('close', () => {
      if (!this.subscribed) return;
      this.subscribed = false;
      handlers.down();
    });
    const subscribe = async () => {
      if (this.closed) return;
      try {
        await sub.subscribe(channel);
        this.subscribed = true;
        handlers.up();
      } catch {
        // The next 'ready' tries again.
      }
    };
    sub.on('ready', () => void subscribe());
    if ((sub as Redis).status === 'ready') await subscribe();
  }

  async publish(channel: string, payload: string): Promise<void> {
    await this.writes.publish(channel, payload);
  }

  async close(): Promise<void> {
    this.closed = true;
    const sub = this.sub;
    if (sub === undefined) return;
    this.sub = undefined;
    await closeClient(sub, 500);
  }
}
