/*
 * Why a tick's calls go out as several requests: one request per tick makes the callers move in
 * lockstep. The 16 writers of the write-behind bench resumed together from one reply, encoded
 * their next saves while Redis sat idle, then waited together while Redis ran the script and
 * node sat idle: a save cost node's time plus Redis's. Split in two or more requests, Redis runs
 * the first while node still encodes the rest, and the writers fall into groups that alternate,
 * so the two overlap. Saves alone went from 13–14.5k to 20–29k acknowledgments per second there.
 * Requests below 8 calls lost more to each script's fixed cost than the overlap won (19.6k).
 */

/** Requests a tick's calls are split into (when each still gets `MIN_PER_REQUEST`). */
const REQUESTS_PER_TICK = 4;
/** Fewest calls per request when a tick's calls are split. */
const MIN_PER_REQUEST = 8;

/** How many of a tick's `n` calls go in each request, at most `max`. */
export function requestSize(n: number, max: number): number {
  return Math.min(max, Math.max(MIN_PER_REQUEST, Math.ceil(n / REQUESTS_PER_TICK)));
}

/** Collects the calls made in one tick and sends them in a few requests (see above). */
export class TickBatcher<I, O> {
  private waiting: { item: I; resolve(o: O): void; reject(e: unknown): void }[] = [];

  constructor(
    private readonly send: (items: I[]) => Promise<O[]>,
    private readonly max: number,
  ) {}

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      if (this.waiting.length === 0) process.nextTick(() => this.flush());
      this.waiting.push({ item, resolve, reject });
    });
  }

  private flush(): void {
    const all = this.waiting;
    this.waiting = [];
    const size = requestSize(all.length, this.max);
    for (let i = 0; i < all.length; i += size) {
      const part = all.slice(i, i + size);
      this.send(part.map((w) => w.item)).then(
        (out) => part.forEach((w, j) => w.resolve(out[j])),
        (err: unknown) => part.forEach((w) => w.reject(err)),
      );
    }
  }
}
