import type { Cache } from '../cache';
import { type Duration, parseDuration } from '../engine/duration';
import { CacheConfigError } from '../errors';
import { type HitReading, HitWindow } from './hit_window';

/** Why a hit-ratio alert fired. */
export type HitRatioAlertReason =
  /** The ratio over the window fell under `below`. */
  | 'below'
  /** The ratio fell by at least `dropBy` from the window before. */
  | 'drop';

/** What `onAlert` receives. */
export interface HitRatioAlertInfo {
  readonly reason: HitRatioAlertReason;
  /** Hit ratio over the window just ended. */
  readonly ratio: number;
  /** Hit ratio over the window before it (`undefined` until there is one with `minSamples` lookups). */
  readonly previousRatio: number | undefined;
  /** The ratio the alert compared against: `below`, or `previousRatio - dropBy`. */
  readonly threshold: number;
  /** Hits and misses in the window. */
  readonly hits: number;
  readonly misses: number;
  /** The window length, ms. */
  readonly windowMs: number;
  /** The namespace watched, or `undefined` for the whole cache. */
  readonly namespace: string | undefined;
  /** When the check ran (the clock's time, ms). */
  readonly at: number;
}

/** What `onRecover` receives: the ratio now, and the alert that ended. */
export interface HitRatioRecoveryInfo {
  readonly ratio: number;
  readonly previousRatio: number | undefined;
  readonly hits: number;
  readonly misses: number;
  readonly windowMs: number;
  readonly namespace: string | undefined;
  readonly at: number;
  /** The alert this recovery ends. */
  readonly alert: HitRatioAlertInfo;
}

/** Options of `hitRatioAlert`. */
export interface HitRatioAlertOptions {
  /** Length of the sliding window. Default `'5m'`. */
  window?: Duration;
  /** How often the ratio is checked. Default a tenth of the window, at least 1 s (at most the window). */
  interval?: Duration;
  /** Lookups a window needs before it is judged: an idle cache never alerts. Default 100. */
  minSamples?: number;
  /** Alert when the ratio falls under this (0–1). Default 0.8; `false` for no floor. */
  below?: number | false;
  /** Alert when the ratio falls this much (0–1) from the window before. Default off. */
  dropBy?: number;
  /**
   * How far the ratio must climb back above the line that fired before `onRecover`, so that a
   * ratio hovering at the line does not alert again and again. Default 0.05.
   */
  hysteresis?: number;
  /** Watch one namespace (as named in `stats().namespaces`, `_` for the root) instead of the whole cache. */
  namespace?: string;
  /** Called once when an excursion starts; exceptions are contained. */
  onAlert(info: HitRatioAlertInfo): void;
  /** Called once when it ends; exceptions are contained. */
  onRecover?(info: HitRatioRecoveryInfo): void;
  /** The time source, ms (for tests). Default `Date.now`. */
  clock?: () => number;
}

/** Where the watched ratio stands after a check. */
export interface HitRatioStatus {
  /** Whether an alert fired and has not recovered. */
  readonly alerting: boolean;
  /** Ratio over the current window (`NaN` without lookups, `undefined` before two readings). */
  readonly ratio: number | undefined;
  readonly previousRatio: number | undefined;
  /** Lookups in the current window. */
  readonly lookups: number;
}

/** A running hit-ratio watch. */
export interface HitRatioAlert {
  /** Reads the counters and judges the window now (the timer calls it every `interval`). */
  check(): HitRatioStatus;
  /** Stops the timer. */
  stop(): void;
}

/**
 * Watches a cache's hit ratio over a sliding window and calls `onAlert` when it falls under
 * `below` or drops by `dropBy` from the window before; once per excursion, until it climbs
 * back (`onRecover`). Reads `cache.stats()` every `interval`: nothing is added to the hit path.
 *
 * ```ts
 * const watch = hitRatioAlert(cache, { window: '5m', below: 0.8, dropBy: 0.2, onAlert: (a) => log.warn(a) });
 * // at shutdown
 * watch.stop();
 * ```
 */
export function hitRatioAlert(cache: Cache, options: HitRatioAlertOptions): HitRatioAlert {
  const o = resolve(options);
  const clock = o.clock;
  const window = new HitWindow(o.windowMs, o.intervalMs);
  const read = (): HitReading => {
    const s = cache.stats();
    const at = clock();
    if (o.namespace === undefined) return { at, hits: s.hits, misses: s.misses };
    const ns = s.namespaces[o.namespace];
    return { at, hits: ns?.hits ?? 0, misses: ns?.misses ?? 0 };
  };
  window.add(read());
  let active: HitRatioAlertInfo | undefined;

  const check = (): HitRatioStatus => {
    window.add(read());
    const cur = window.counts(0);
    const prev = window.counts(1);
    const lookups = cur === undefined ? 0 : cur.hits + cur.misses;
    const previousRatio =
      prev !== undefined && prev.hits + prev.misses >= o.minSamples ? prev.ratio : undefined;
    const status = () => ({ alerting: active !== undefined, ratio: cur?.ratio, previousRatio, lookups });
    if (cur === undefined || lookups < o.minSamples) return status();
    const ratio = cur.ratio;
    const base = {
      ratio,
      previousRatio,
      hits: cur.hits,
      misses: cur.misses,
      windowMs: o.windowMs,
      namespace: o.namespace,
      at: cur.to,
    };
    if (active === undefined) {
      let fired: HitRatioAlertInfo | undefined;
      if (o.below !== undefined && ratio < o.below) fired = { ...base, reason: 'below', threshold: o.below };
      else if (o.dropBy !== undefined && previousRatio !== undefined && previousRatio - ratio >= o.dropBy)
        fired = { ...base, reason: 'drop', threshold: previousRatio - o.dropBy };
      if (fired !== undefined) {
        active = fired;
        contain(() => o.onAlert(fired));
      }
    } else {
      // Back only when clear of every line that could have fired, with margin: once recovered,
      // the next crossing is a new excursion.
      const clearOfFloor = o.below === undefined || ratio >= o.below + o.hysteresis;
      const clearOfDrop = active.reason !== 'drop' || ratio >= active.threshold + o.hysteresis;
      if (clearOfFloor && clearOfDrop) {
        const ended = active;
        active = undefined;
        if (o.onRecover !== undefined) {
          const onRecover = o.onRecover;
          contain(() => onRecover({ ...base, alert: ended }));
        }
      }
    }
    return status();
  };

  const timer = setInterval(check, o.intervalMs);
  // A watch must not keep the process alive.
  timer.unref();
  return {
    check,
    stop: () => clearInterval(timer),
  };
}

function contain(fn: () => void): void {
  try {
    fn();
  } catch {
    // A throwing callback is the caller's bug; the watch goes on.
  }
}

interface Resolved {
  windowMs: number;
  intervalMs: number;
  minSamples: number;
  below: number | undefined;
  dropBy: number | undefined;
  hysteresis: number;
  namespace: string | undefined;
  onAlert: (info: HitRatioAlertInfo) => void;
  onRecover: ((info: HitRatioRecoveryInfo) => void) | undefined;
  clock: () => number;
}

function resolve(options: HitRatioAlertOptions): Resolved {
  if (options === null || typeof options !== 'object')
    throw new CacheConfigError('hitRatioAlert', options, 'expected options with onAlert');
  if (typeof options.onAlert !== 'function')
    throw new CacheConfigError('onAlert', options.onAlert, 'expected a function');
  if (options.onRecover !== undefined && typeof options.onRecover !== 'function')
    throw new CacheConfigError('onRecover', options.onRecover, 'expected a function');
  if (options.clock !== undefined && typeof options.clock !== 'function')
    throw new CacheConfigError('clock', options.clock, 'expected a function returning ms');
  const windowMs = parseDuration('window', options.window ?? '5m');
  const intervalMs =
    options.interval === undefined
      ? Math.min(windowMs, Math.max(1000, Math.round(windowMs / 10)))
      : parseDuration('interval', options.interval);
  if (intervalMs > windowMs)
    throw new CacheConfigError('interval', options.interval, 'must not be longer than the window');
  const minSamples = options.minSamples ?? 100;
  if (typeof minSamples !== 'number' || !Number.isInteger(minSamples) || minSamples < 1)
    throw new CacheConfigError('minSamples', minSamples, 'expected a positive integer');
  const below = options.below === false ? undefined : fraction('below', options.below ?? 0.8);
  const dropBy = options.dropBy === undefined ? undefined : fraction('dropBy', options.dropBy);
  if (below === undefined && dropBy === undefined)
    throw new CacheConfigError('below', options.below, 'with below: false, give dropBy, or nothing can fire');
  const hysteresis = fraction('hysteresis', options.hysteresis ?? 0.05, true);
  const ns = options.namespace;
  if (ns !== undefined && (typeof ns !== 'string' || ns === ''))
    throw new CacheConfigError('namespace', ns, "expected a namespace name ('_' for the root)");
  return {
    windowMs,
    intervalMs,
    minSamples,
    below,
    dropBy,
    hysteresis,
    namespace: ns,
    onAlert: options.onAlert,
    onRecover: options.onRecover,
    clock: options.clock ?? (() => Date.now()),
  };
}

/** A ratio option: over 0 (or 0 itself when allowed) and at most 1. */
function fraction(option: string, value: unknown, allowZero = false): number {
  if (typeof value !== 'number' || !(value <= 1) || !(allowZero ? value >= 0 : value > 0))
    throw new CacheConfigError(
      option,
      value,
      allowZero ? 'expected a number from 0 to 1' : 'expected a number over 0, at most 1',
    );
  return value;
}
