/**
 * Counts, per cached method, how often it was called and how often its body (the loader: the
 * database work) really ran. The difference is what the cache saved.
 */
export class LoaderCalls {
  private readonly calls = new Map<string, number>();
  private readonly loads = new Map<string, number>();

  /** Notes a call of `name`, made by the caller before going through the cache. */
  called(name: string): void {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
  }

  /** Notes one run of `name`'s body, i.e. a cache miss that went to the database. */
  loaded(name: string): void {
    this.loads.set(name, (this.loads.get(name) ?? 0) + 1);
  }

  /** Runs of `name`'s body so far. */
  loadsOf(name: string): number {
    return this.loads.get(name) ?? 0;
  }

  /** Per method: calls, loader runs and the calls the cache answered. */
  table(): { name: string; calls: number; loads: number; saved: number }[] {
    return [...this.calls].map(([name, calls]) => {
      const loads = this.loadsOf(name);
      return { name, calls, loads, saved: Math.max(0, calls - loads) };
    });
  }
}
