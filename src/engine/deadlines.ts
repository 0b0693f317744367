/*
 * Why: every L2 read used to arm its own setTimeout for the read timeout and clear it on the
 * reply. At tens of thousands of reads a second that was a Timeout object, two timer-list
 * updates and a closure per read, and the Timeout objects lived long enough to be promoted,
 * which made every scavenge dearer (bench/redis_hit.ts: ~1.5 KB and 1-2 µs of GC per hit).
 * All reads of a cache share one timeout, so their deadlines fall in the order they started:
 * one queue in start order and one timer, armed for the oldest unfinished one, do the same job.
 */

/** One operation's deadline: `settle()` it when the operation finishes in time. */
export class Deadline {
  /** Finished, in time or not. */
  done = false;
  /** A timer of its own (`Deadline.timed`); queued deadlines share their queue's. */
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly at: number,
    private readonly onExpire: () => void,
  ) {}

  /** A deadline with a timer of its own, for a duration no queue serves. */
  static timed(ms: number, onExpire: () => void): Deadline {
    const d = new Deadline(Date.now() + ms, onExpire);
    d.timer = setTimeout(() => d.expire(), ms);
    return d;
  }

  /** Marks the operation finished; returns false when it had already expired. */
  settle(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    return true;
  }

  /** @internal Called by the queue once `at` has passed. */
  expire(): void {
    if (this.done) return;
    this.done = true;
    this.onExpire();
  }
}

/** Deadlines of one fixed duration, with one timer between them. */
export class DeadlineQueue {
  /** Open and finished deadlines from `head` on; slots before `head` are emptied. */
  private items: (Deadline | undefined)[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Every deadline is this many ms after its `add`. */
    readonly ms: number,
  ) {}

  /** Starts a deadline; `onExpire` runs if it is not settled within `ms`. */
  add(onExpire: () => void): Deadline {
    const d = new Deadline(Date.now() + this.ms, onExpire);
    this.trim();
    this.items.push(d);
    if (this.timer === undefined) this.arm(d.at);
    return d;
  }

  /** Deadlines not yet settled or expired (for tests and stats). */
  get size(): number {
    let n = 0;
    for (let i = this.head; i < this.items.length; i++) if (!this.items[i]!.done) n++;
    return n;
  }

  /** Stops the timer; deadlines still open never expire. */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.items = [];
    this.head = 0;
  }

  /**
   * Drops finished deadlines from the front: most finish in order, so the queue stays short.
   * Their slots are emptied at once: a finished deadline holds its operation's closure, which
   * must not outlive the operation (kept ~1,000 deep under load, they were promoted to the old
   * generation and made every scavenge dearer).
   */
  private trim(): void {
    const items = this.items;
    let h = this.head;
    while (h < items.length && items[h]!.done) items[h++] = undefined;
    if (h === items.length) {
      this.items = [];
      this.head = 0;
    } else if (h > 1024 && h * 2 > items.length) {
      this.items = items.slice(h);
      this.head = 0;
    } else {
      this.head = h;
    }
  }

  private arm(at: number): void {
    // +1: Node may fire a timer up to a millisecond early against Date.now(). Unref'd: an
    // operation still waiting on I/O or a timer keeps the process up by that handle, and a
    // finished one must not hold it open for a timeout's length.
    this.timer = setTimeout(() => this.fire(), Math.max(1, at - Date.now() + 1));
    this.timer.unref?.();
  }

  private fire(): void {
    this.timer = undefined;
    const now = Date.now();
    const items = this.items;
    let h = this.head;
    const expired: Deadline[] = [];
    while (h < items.length && (items[h]!.done || items[h]!.at <= now)) {
      const d = items[h]!;
      items[h++] = undefined;
      if (!d.done) expired.push(d);
    }
    this.head = h;
    this.trim();
    if (this.head < this.items.length) this.arm(this.items[this.head]!.at);
    // Last: a callback may add deadlines, which must find the queue in order.
    for (const d of expired) d.expire();
  }
}
