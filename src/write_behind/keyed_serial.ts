/**
 * Runs async tasks one after the other per key, and concurrently across keys. The write-behind
 * cache puts every cache write of a row through it, in this process, so that they land in
 * version order: a slow older write can never overwrite a newer one here.
 */
export class KeyedSerial {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `task` after every task queued before it for `key` has settled (failed ones included). */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key);
    const p = prev === undefined ? task() : prev.then(task);
    const tail = p.then(
      () => {},
      () => {},
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return p;
  }

  /** Resolves when every task queued before this call has settled (later ones are not waited for). */
  async idle(): Promise<void> {
    await Promise.all([...this.tails.values()]);
  }
}
