import { Counter, Gauge, Registry } from 'prom-client';
import type { Shop } from './app';

/** What `/metrics` serves. */
export interface ShopMetrics {
  readonly contentType: string;
  /** The exposition text. */
  metrics(): Promise<string>;
  close(): void;
}

/**
 * A prom-client registry read from `cache.stats()` and the write-behind stats at each scrape
 * (nothing is counted twice and no timer runs between scrapes).
 */
export function shopMetrics(shop: Shop): ShopMetrics {
  const registry = new Registry();
  const stats = () => shop.cache.stats();
  const counter = (name: string, help: string, value: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  new Counter({
    name: 'cachekit_hits_total',
    help: 'Cache hits, by tier.',
    labelNames: ['tier'],
    registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      this.inc({ tier: 'l1' }, s.l1.hits);
      this.inc({ tier: 'l2' }, s.l2.hits);
    },
  });
  counter('cachekit_misses_total', 'Lookups that found no usable entry.', () => stats().misses);
  counter(
    'cachekit_loads_total',
    'Loader runs (cache misses that went to the database).',
    () => stats().loads,
  );
  counter('cachekit_invalidations_total', 'Tag invalidations.', () => stats().invalidations);
  counter(
    'cachekit_write_behind_flushed_total',
    'Rows the write-behind flusher wrote.',
    () => shop.writeBehind.stats().flushed,
  );
  new Gauge({
    name: 'cachekit_hit_ratio',
    help: 'Hits over lookups since start.',
    registers: [registry],
    collect() {
      this.set(stats().hitRatio);
    },
  });
  new Gauge({
    name: 'cachekit_l1_entries',
    help: 'Entries in the in-process tier.',
    registers: [registry],
    collect() {
      this.set(stats().l1.entries);
    },
  });
  new Gauge({
    name: 'cachekit_write_behind_pending',
    help: 'Writes acknowledged and not yet in the database.',
    registers: [registry],
    collect() {
      this.set(shop.writeBehind.stats().pending);
    },
  });
  return {
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    close: () => registry.clear(),
  };
}
