import type { Cache } from '../src';
import { cacheMetrics, type CacheMetrics, hitRatioAlert, type HitRatioAlert } from '../src/prometheus';
import type { Shop } from './app';
import { pct } from './report';

/** The shop's Prometheus metrics: cache counters by namespace and layer, loads, write-behind depth. */
export function shopMetrics(shop: Shop): CacheMetrics {
  return cacheMetrics(shop.cache, { writeBehind: shop.writeBehind, ratioWindow: '1m' });
}

/** Options of `watchHitRatio`. */
export interface HitRatioWatchOptions {
  /** Where warnings go. */
  log: (line: string) => void;
  /** Sliding window. Default `'1m'`. */
  window?: string;
  /** Lookups a window needs before it is judged. Default 100. */
  minSamples?: number;
  /** Time source (the scenario's clock counts phases). Default `Date.now`. */
  clock?: () => number;
}

/**
 * Prints a warning when the hit ratio over the window falls under 80% (a cold cache, a flood
 * of invalidations, keys that never repeat) and a line when it is back.
 */
export function watchHitRatio(cache: Cache, options: HitRatioWatchOptions): HitRatioAlert {
  return hitRatioAlert(cache, {
    window: options.window ?? '1m',
    below: 0.8,
    minSamples: options.minSamples ?? 100,
    ...(options.clock ? { clock: options.clock } : {}),
    onAlert: (a) =>
      options.log(
        `WARNING: hit ratio ${pct(a.ratio)} over the last window (${a.hits} hits, ${a.misses} misses), under ${pct(a.threshold)}`,
      ),
    onRecover: (r) =>
      options.log(`hit ratio recovered: ${pct(r.ratio)} (alert at ${pct(r.alert.ratio)} cleared)`),
  });
}
