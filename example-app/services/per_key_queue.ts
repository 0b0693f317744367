/**
 * Runs tasks one at a time per key. Counters are read-modify-write; two concurrent requests for
 * one product must not both read 5 and both write 4. This serializes them within the process
 * (several instances would need an atomic counter in the database instead).
 */
export class PerKeyQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` once every earlier task of `key` has settled. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
