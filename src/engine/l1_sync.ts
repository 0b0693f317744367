import { randomUUID } from 'node:crypto';
import type { Bus } from '../stores/bus';
import type { CacheStack } from './cache_stack';
import type { Announcer, CarriedWrite } from './carried_write';

/**
 * Keeps this process's L1 in step with other instances over a bus: tag bumps move the local tag
 * mirror, deletes and explicit sets drop the L1 copy. While the bus is down the L1 is emptied and
 * left unfilled, since invalidations may be passing unseen; when it is back the L1 starts empty,
 * so nothing invalidated in between can be served.
 */
export class L1Sync {
  /** Tells this instance's own messages apart. */
  readonly instance = randomUUID();
  /** False while messages may be missed: L1 is emptied and not filled. */
  live = true;
  private started = false;
  private readonly channel: string;
  /** Drops published in this tick, sent together at its end. */
  private pendingDrops: string[] | undefined;
  /** Tag bumps of this tick's writes, by version, sent with the drops. */
  private pendingBumps: Map<number, string[]> | undefined;
  /** How this instance's own messages start, to skip them without parsing. */
  private readonly ownPrefix: string;
  /**
   * The message of carried writes (write-behind saves), for the carrier to publish with them:
   * the same message `publishWrite` would send for them, in one piece per batch.
   */
  readonly announcer: Announcer;

  constructor(
    private readonly stack: CacheStack,
    private readonly bus: Bus,
  ) {
    this.channel = `${stack.prefix}:__:bus`;
    this.ownPrefix = JSON.stringify({ i: this.instance }).slice(0, -1);
    const head = `${this.ownPrefix},"v":`;
    this.announcer = {
      bus,
      channel: this.channel,
      split: (writes: readonly CarriedWrite[]) => {
        const t: string[] = [];
        const d: string[] = [];
        for (const w of writes) {
          for (const k of w.bumpKeys) t.push(k);
          d.push(w.l1Key);
        }
        stack.stats.busPublished++;
        return [head, `,"t":${JSON.stringify(t)},"d":${JSON.stringify(d)},"at":${Date.now()}}`] as const;
      },
    };
  }

  /** Subscribes; L1 is used once the subscription is live. */
  start(): Promise<void> {
    return this.bus.start(this.channel, {
      message: (payload) => this.receive(payload),
      up: () => {
        if (!this.started) {
          // Entries cached before the first subscription may have missed a message: re-read
          // their tags' versions (L1 is small this early) rather than drop them.
          this.started = true;
          void this.revalidate();
          return;
        }
        // Back after a loss: whatever was missed, L1 was emptied and starts anew.
        this.stack.stats.busReconnects++;
        this.stack.l1?.clear();
        this.live = true;
      },
      down: () => {
        this.live = false;
        this.stack.l1?.clear();
      },
    });
  }

  /** Tells the other instances that these tag keys are now at `version`. */
  publishTags(tagKeys: readonly string[], version: number): void {
    this.send({ i: this.instance, v: version, t: tagKeys, at: Date.now() });
  }

  /**
   * Tells the other instances to drop their L1 copies of these L1 keys. Drops of one tick go out
   * as one message: a burst of writes (write-behind saves, warming, write-through) cost one
   * PUBLISH per write before, and as much again for each instance to parse, which doubled the
   * CPU of a cache write.
   */
  publishDrop(l1Keys: readonly string[]): void {
    const pending = this.pendingDrops;
    if (pending !== undefined) {
      for (const k of l1Keys) pending.push(k);
      return;
    }
    this.pendingDrops = [...l1Keys];
    process.nextTick(() => this.flushTick());
  }

  /**
   * A write that moved tags itself (a write-behind save: its script bumped `tagKeys` to
   * `version` and stored the entry under `l1Key`): both travel in this tick's drop message.
   */
  publishWrite(tagKeys: readonly string[], version: number, l1Key: string): void {
    this.publishDrop([l1Key]);
    if (tagKeys.length === 0) return;
    const bumps = (this.pendingBumps ??= new Map());
    const list = bumps.get(version);
    if (list === undefined) bumps.set(version, [...tagKeys]);
    else for (const k of tagKeys) list.push(k);
  }

  /** Sends this tick's drops, with its tag bumps (one message per version; the first carries the drops). */
  private flushTick(): void {
    const d = this.pendingDrops;
    const bumps = this.pendingBumps;
    this.pendingDrops = undefined;
    this.pendingBumps = undefined;
    const at = Date.now();
    if (bumps === undefined) {
      if (d !== undefined) this.send({ i: this.instance, d, at });
      return;
    }
    let first = true;
    for (const [v, t] of bumps) {
      this.send(
        first && d !== undefined ? { i: this.instance, v, t, d, at } : { i: this.instance, v, t, at },
      );
      first = false;
    }
  }

  private async revalidate(): Promise<void> {
    const stack = this.stack;
    const l2 = stack.l2;
    const l1 = stack.l1;
    if (l1 === undefined || l2 === undefined || l1.size === 0) return;
    const tags = new Set<string>();
    for (const e of l1.values()) if (e.tags !== undefined) for (const t of e.tags) tags.add(t);
    const keys = [...tags];
    const versions = await stack.guard(
      'bus.revalidate',
      undefined,
      () => l2.getVersions(keys),
      stack.l2Timeout,
    );
    if (versions === undefined) {
      l1.clear();
      return;
    }
    keys.forEach((k, i) => stack.mirror.note(k, versions[i]));
  }

  close(): Promise<void> {
    // Writes made just before close still reach the other instances.
    this.flushTick();
    this.live = false;
    return this.bus.close();
  }

  private send(m: BusMessage): void {
    const stack = this.stack;
    stack.stats.busPublished++;
    void stack.guard(
      'bus.publish',
      undefined,
      () => this.bus.publish(this.channel, JSON.stringify(m)),
      stack.l2WriteTimeout,
    );
  }

  private receive(payload: string): void {
    // Every subscriber gets every message, this instance's own included (`i` is written first).
    if (payload.startsWith(this.ownPrefix)) return;
    let m: BusMessage;
    try {
      m = JSON.parse(payload) as BusMessage;
    } catch {
      return;
    }
    if (m === null || typeof m !== 'object' || m.i === this.instance) return;
    const stack = this.stack;
    stack.stats.busReceived++;
    if (typeof m.at === 'number') stack.stats.recordBusLag(Date.now() - m.at);
    if (Array.isArray(m.t) && typeof m.v === 'number') {
      for (const k of m.t) if (typeof k === 'string') stack.mirror.note(k, m.v);
      stack.mirror.observeSeq(m.v);
    }
    if (Array.isArray(m.d)) for (const k of m.d) if (typeof k === 'string') stack.l1?.delete(k);
  }
}

/** One bus message: tag keys bumped to a version, or L1 keys to drop. */
interface BusMessage {
  /** Sending instance. */
  i: string;
  /** Version the tags now have. */
  v?: number;
  /** Tag-version keys. */
  t?: readonly string[];
  /** L1 keys whose copies are outdated. */
  d?: readonly string[];
  /** Send time (epoch ms), for the lag figure. */
  at?: number;
}
