/**
 * Runs async tasks one after the other per key, and concurrently across keys. The write-behind
 * cache puts every cache write of a row through it, in this process, so that they land in
 * version order: a slow older write can never overwrite a newer one here.
 */
export class KeyedSerial {
  /** The last task queued per key; it may reject (the next task runs either way). */
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every task queued before it for `key` has settled (failed ones included). */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key);
    // Every save goes through here: one promise for the chain and one for the clean-up (a
    // separate never-rejecting tail made three). It was 2% of the save path's CPU profile; the
    // throughput difference is below the bench's noise.
    const p = prev === undefined ? task() : prev.then(task, task);
    this.tails.set(key, p);
    const done = () => {
      if (this.tails.get(key) === p) this.tails.delete(key);
    };
    p.then(done, done);
    return p;
  }

  /** Resolves when every task queued before this call has settled (later ones are not waited for). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.tails.values()]);
  }
}
