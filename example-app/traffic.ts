/**
 * A seeded random source, so that every run of the scenario makes the same requests and prints
 * comparable numbers (mulberry32: tiny, fast, good enough for traffic shapes).
 */
export class Traffic {
  private state: number;

  constructor(seed = 42) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** One of `items`, the first ones far more often (as real catalogs are: a few hot products). */
  skewed<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() ** 3 * items.length)];
  }

  /** One of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}
