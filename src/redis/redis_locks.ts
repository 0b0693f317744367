import { randomUUID } from 'node:crypto';
import { closeClient } from './close_client';
import type { Cluster, Redis } from 'ioredis';
import { type Duration, parseDuration } from '../engine/duration';
import { CacheConfigError } from '../errors';
import type { StoreLocks } from '../stores/store';

/** Options of `RedisLocks`. */
export interface RedisLocksOptions {
  /**
   * Prepended to an entry key to name its lock key, and the channel its release is announced
   * on. Default `'cachekit-lock '`. Change it when Redis ACLs restrict the key names you may use.
   */
  prefix?: string;
  /** First poll of a waited lock, in case a release notification is lost. Default `'10ms'`. */
  pollMin?: Duration;
  /** Longest gap between polls; the gap doubles from `pollMin` up to it. Default `'200ms'`. */
  pollMax?: Duration;
}

/**
 * Deletes the lock only while `token` holds it, then announces the release. A lock found gone
 * (it expired before its holder finished) is announced too: the holder has just written the
 * entry, so waiters should re-read now rather than at their next poll. A lock held by someone
 * else is left alone and not announced: its new holder is loading. The channel comes as an
 * argument, not as KEYS[1], because a client `keyPrefix` renames keys but never channels.
 * `pcall`: where ACLs forbid publishing, the release must still count; waiters then poll.
 */
const RELEASE_SCRIPT = `
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('DEL', KEYS[1])
elseif held then
  return 0
end
redis.pcall('PUBLISH', ARGV[2], '1')
return 1
`;

/** One caller of `waitForRelease`. */
interface Waiter {
  resolve(released: boolean): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

/** Every caller of this process waiting for one lock: they share a subscription and a poll. */
interface LockWait {
  readonly lockKey: string;
  readonly waiters: Set<Waiter>;
  poll: NodeJS.Timeout | undefined;
  /** Gap before the next poll. */
  delay: number;
}

interface ScriptedClient {
  cachekitLockRelease(lockKey: string, token: string, channel: string): Promise<number>;
}

/**
 * The cross-process lock of a cold key, on Redis: `SET NX PX` to take it, a compare-and-delete
 * script to release it. A waiter is woken by the release notification (pub/sub, one channel per
 * lock, on one subscriber connection opened on the first wait) and, should that message be
 * lost or the holder die, by polling the lock key with a growing gap.
 *
 * Lock keys are `prefix + entry key`. Why not the entry key with a suffix, or a hash tag to pin
 * the lock to the entry's Cluster slot: every command here names the lock key alone (the entry
 * is read and written by separate commands), so on Cluster any slot works; and the default
 * prefix contains a space before any `:`, which a cache prefix may not contain, so a lock key
 * can never be the name of an entry, tag or sequence key, whatever the user's keys look like.
 */
export class RedisLocks implements StoreLocks {
  /** The client that takes, releases and polls locks. */
  readonly client: Redis | Cluster;
  private readonly prefix: string;
  private readonly pollMin: number;
  private readonly pollMax: number;
  private readonly scripted: ScriptedClient;
  /** The pub/sub connection, opened by the first wait. */
  private sub: Redis | Cluster | undefined;
  /** Waits in progress, by lock key (which is also the release channel). */
  private readonly waits = new Map<string, LockWait>();
  private closed = false;

  constructor(client: Redis | Cluster, options: RedisLocksOptions = {}) {
    this.client = client;
    const prefix = options.prefix ?? 'cachekit-lock ';
    if (typeof prefix !== 'string' || prefix === '') {
      // An empty prefix would make the lock key the entry key itself.
      throw new CacheConfigError('locks.prefix', prefix, 'expected a non-empty string');
    }
    this.prefix = prefix;
    this.pollMin = parseDuration('locks.pollMin', options.pollMin ?? 10);
    this.pollMax = parseDuration('locks.pollMax', options.pollMax ?? 200);
    if (this.pollMax < this.pollMin) {
      throw new CacheConfigError('locks.pollMax', options.pollMax, 'must not be shorter than locks.pollMin');
    }
    const c = client as unknown as Record<string, unknown>;
    if (typeof c.cachekitLockRelease !== 'function') {
      client.defineCommand('cachekitLockRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    }
    this.scripted = client as unknown as ScriptedClient;
  }

  async acquire(key: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const ok = await this.client.set(this.prefix + key, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return ok === 'OK' ? token : undefined;
  }

  async release(key: string, token: string): Promise<void> {
    const lockKey = this.prefix + key;
    await this.scripted.cachekitLockRelease(lockKey, token, lockKey);
  }

  waitForRelease(key: string, timeoutMs: number): Promise<boolean> {
    if (this.closed || !(timeoutMs > 0)) return Promise.resolve(false);
    const lockKey = this.prefix + key;
    return new Promise<boolean>((resolve, reject) => {
      let wait = this.waits.get(lockKey);
      const fresh = wait === undefined;
      if (wait === undefined) {
        wait = { lockKey, waiters: new Set(), poll: undefined, delay: this.pollMin };
        this.waits.set(lockKey, wait);
      }
      const w = wait;
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          w.waiters.delete(waiter);
          if (w.waiters.size === 0) this.end(w);
          resolve(false);
        }, timeoutMs),
      };
      waiter.timer.unref();
      w.waiters.add(waiter);
      if (fresh) this.watch(w);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.waits.values()]) this.settle(w, (x) => x.resolve(false));
    const sub = this.sub;
    this.sub = undefined;
    if (sub === undefined) return;
    await closeClient(sub);
  }

  /** Starts listening for a lock's release: its channel, and a poll in case the message never comes. */
  private watch(w: LockWait): void {
    this.subscriber()
      .subscribe(w.lockKey)
      .then(
        // A release published before the subscription took effect was missed: look once now.
        () => this.check(w),
        // No notification then (Redis down, or ACLs forbid pub/sub): the poll still wakes the waiters.
        () => undefined,
      );
    this.schedulePoll(w);
  }

  private schedulePoll(w: LockWait): void {
    w.poll = setTimeout(() => {
      w.poll = undefined;
      this.check(w, () => {
        w.delay = Math.min(w.delay * 2, this.pollMax);
        this.schedulePoll(w);
      });
    }, w.delay);
    w.poll.unref();
  }

  /** Wakes the waiters if the lock is gone; `stillHeld` runs otherwise. */
  private check(w: LockWait, stillHeld?: () => void): void {
    if (this.waits.get(w.lockKey) !== w) return;
    this.client.exists(w.lockKey).then(
      (n) => {
        if (this.waits.get(w.lockKey) !== w) return;
        if (n === 0) this.wakeAll(w);
        else stillHeld?.();
      },
      (err) => {
        // Redis unreachable: the waiters learn it now, not at their timeout, and can load without the lock.
        if (this.waits.get(w.lockKey) === w) this.settle(w, (x) => x.reject(err));
      },
    );
  }

  private wakeAll(w: LockWait): void {
    this.settle(w, (x) => x.resolve(true));
  }

  /** Ends a wait and answers every waiter of it. */
  private settle(w: LockWait, answer: (waiter: Waiter) => void): void {
    this.end(w);
    for (const waiter of w.waiters) {
      clearTimeout(waiter.timer);
      answer(waiter);
    }
    w.waiters.clear();
  }

  /** Forgets a wait: stops its poll and its subscription. */
  private end(w: LockWait): void {
    if (this.waits.get(w.lockKey) !== w) return;
    this.waits.delete(w.lockKey);
    if (w.poll !== undefined) clearTimeout(w.poll);
    w.poll = undefined;
    // Commands on one connection run in order, so a wait that starts on this key again later
    // subscribes after this unsubscribe and stays subscribed.
    if (!this.closed) this.sub?.unsubscribe(w.lockKey).catch(() => undefined);
  }

  private subscriber(): Redis | Cluster {
    if (this.sub === undefined) {
      const sub = this.client.duplicate();
      // Without a listener ioredis logs every reconnection error; polling covers an outage.
      sub.on('error', () => undefined);
      sub.on('message', (channel: string) => {
        const w = this.waits.get(channel);
        if (w !== undefined) this.wakeAll(w);
      });
      this.sub = sub;
    }
    return this.sub;
  }
}
