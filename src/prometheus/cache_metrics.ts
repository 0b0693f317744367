import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import type { Cache } from '../cache';
import { type Duration, parseDuration } from '../engine/duration';
import type { CacheEventMap } from '../engine/events';
import type { CacheStats } from '../engine/stats';
import { CacheConfigError } from '../errors';
import type { WriteBehind } from '../write_behind/write_behind';
import type { WriteBehindStats } from '../write_behind/write_behind_stats';
import { HitWindow } from './hit_window';

/** Load-duration buckets (seconds) unless `buckets` is given: 1 ms to 10 s. */
export const DEFAULT_LOAD_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Options of `cacheMetrics`. */
export interface CacheMetricsOptions {
  /** Where the metrics are registered. Default a new `Registry`; pass prom-client's `register` for the global one. */
  registry?: Registry;
  /** Prefix of every metric name. Default `'cachekit_'`; give each cache its own when they share a registry. */
  prefix?: string;
  /** A write-behind whose queue depth and dead letters are exported too. */
  writeBehind?: WriteBehind;
  /** Upper bounds (seconds) of the load-duration histogram. Default `DEFAULT_LOAD_BUCKETS`. */
  buckets?: readonly number[];
  /** Window of the `hit_ratio` gauge. Default `'5m'`. */
  ratioWindow?: Duration;
}

/** A cache's metrics in a prom-client registry. */
export interface CacheMetrics {
  /** The registry holding them. */
  readonly registry: Registry;
  /** The exposition text of the whole registry. */
  metrics(): Promise<string>;
  /** The `Content-Type` of `metrics()`. */
  readonly contentType: string;
  /** A `node:http` (or Express) handler answering with `metrics()`: mount it on `/metrics`. */
  handler(req: IncomingMessage, res: ServerResponse): void;
  /** Removes the metrics from the registry and stops listening to the cache. */
  close(): void;
}

type Snapshot = { cache: CacheStats; wb: WriteBehindStats | undefined };
type Labels = Record<string, string>;
type Sample = readonly [Labels, number];

const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const NONE: Labels = {};

/**
 * Exports a cache's counters to Prometheus through prom-client. Figures are read from
 * `cache.stats()` when scraped, so the hit path pays nothing; only loader runs are observed
 * as they happen (for the duration histogram).
 *
 * ```ts
 * const metrics = cacheMetrics(cache);
 * http.createServer((req, res) => (req.url === '/metrics' ? metrics.handler(req, res) : app(req, res)));
 * ```
 */
export function cacheMetrics(cache: Cache, options: CacheMetricsOptions = {}): CacheMetrics {
  if (options === null || typeof options !== 'object')
    throw new CacheConfigError('cacheMetrics', options, 'expected an options object');
  const p = options.prefix ?? 'cachekit_';
  if (typeof p !== 'string' || !METRIC_PREFIX.test(p))
    throw new CacheConfigError('prefix', p, 'expected letters, digits, _ and : (not starting with a digit)');
  const registry = options.registry ?? new Registry();
  // Duck-typed: an application's own copy of prom-client makes registries this one did not.
  if (
    registry === null ||
    typeof registry !== 'object' ||
    typeof registry.registerMetric !== 'function' ||
    typeof registry.getSingleMetric !== 'function'
  )
    throw new CacheConfigError('registry', registry, 'expected a prom-client Registry');
  const buckets = checkBuckets(options.buckets ?? DEFAULT_LOAD_BUCKETS);
  const wb = options.writeBehind;
  if (wb !== undefined && (wb === null || typeof wb.stats !== 'function'))
    throw new CacheConfigError('writeBehind', wb, 'expected a WriteBehind (from startWriteBehind)');
  const ratioMs = parseDuration('ratioWindow', options.ratioWindow ?? '5m');

  // One snapshot serves every metric of a scrape: prom-client collects them all in one turn.
  let snap: Snapshot | undefined;
  const read = (): Snapshot => {
    if (snap === undefined) {
      snap = { cache: cache.stats(), wb: wb?.stats() };
      queueMicrotask(() => (snap = undefined));
    }
    return snap;
  };
  const window = new HitWindow(ratioMs, Math.max(1, Math.round(ratioMs / 60)), 1);
  const started = cache.stats();
  window.add({ at: Date.now(), hits: started.hits, misses: started.misses });

  const metrics: { name: string; metric: Metric }[] = [];
  const counter = (name: string, help: string, labelNames: string[], samples: (s: Snapshot) => Sample[]) => {
    metrics.push({
      name: p + name,
      metric: new Counter({
        name: p + name,
        help,
        labelNames,
        registers: [],
        collect() {
          this.reset();
          for (const [labels, v] of samples(read())) this.inc(labels, v);
        },
      }),
    });
  };
  const gauge = (name: string, help: string, labelNames: string[], samples: (s: Snapshot) => Sample[]) => {
    metrics.push({
      name: p + name,
      metric: new Gauge({
        name: p + name,
        help,
        labelNames,
        registers: [],
        collect() {
          this.reset();
          for (const [labels, v] of samples(read())) this.set(labels, v);
        },
      }),
    });
  };
  const perNamespace = (
    s: Snapshot,
    value: (ns: CacheStats['namespaces'][string], layer: 'l1' | 'l2') => number,
  ): Sample[] =>
    Object.entries(s.cache.namespaces).flatMap(([namespace, ns]) =>
      (['l1', 'l2'] as const).map((layer) => [{ namespace, layer }, value(ns, layer)] as const),
    );

  counter('hits_total', 'Lookups answered by a layer.', ['namespace', 'layer'], (s) =>
    perNamespace(s, (ns, layer) => ns[layer].hits),
  );
  counter(
    'misses_total',
    'Lookups no layer could answer (the loader ran, or get() found nothing).',
    ['namespace'],
    (s) => Object.entries(s.cache.namespaces).map(([namespace, ns]) => [{ namespace }, ns.misses] as const),
  );
  counter(
    'layer_misses_total',
    'Lookups a layer was asked and could not answer.',
    ['namespace', 'layer'],
    (s) => perNamespace(s, (ns, layer) => ns[layer].misses),
  );
  gauge('hit_ratio', `Hits / lookups over the last ${ratioMs / 1000} s (NaN without lookups).`, [], (s) => {
    window.add({ at: Date.now(), hits: s.cache.hits, misses: s.cache.misses });
    return [[NONE, window.counts(0)?.ratio ?? NaN]];
  });
  counter('load_timeouts_total', 'Callers rejected by the hard loader timeout.', [], (s) => [
    [NONE, s.cache.loadTimeouts],
  ]);
  counter('sets_total', 'Values written to the cache.', [], (s) => [[NONE, s.cache.sets]]);
  counter('invalidations_total', 'Tags and namespaces invalidated.', [], (s) => [
    [NONE, s.cache.invalidations],
  ]);
  gauge('l1_entries', 'Entries in the in-process L1.', [], (s) => [[NONE, s.cache.l1.entries]]);
  gauge('l1_bytes', 'Bytes held by the L1 (encoded size of its entries).', [], (s) => [
    [NONE, s.cache.l1.bytes],
  ]);
  counter('l1_evictions_total', 'L1 entries evicted to stay within maxEntries / maxBytes.', [], (s) => [
    [NONE, s.cache.l1.evictions],
  ]);
  counter('l2_errors_total', 'Failed L2 operations, by kind (timeouts apart).', ['kind'], (s) => [
    [{ kind: 'error' }, s.cache.l2.errors - s.cache.l2.timeouts],
    [{ kind: 'timeout' }, s.cache.l2.timeouts],
  ]);
  counter('l2_skipped_total', 'L2 operations skipped because the circuit was open.', [], (s) => [
    [NONE, s.cache.l2.skipped],
  ]);
  counter('l2_circuit_opens_total', 'Times the L2 circuit breaker opened.', [], (s) => [
    [NONE, s.cache.l2.circuitOpens],
  ]);
  gauge('l2_circuit_state', 'L2 circuit breaker state: 1 for the current one.', ['state'], (s) =>
    (['closed', 'open', 'half-open'] as const).map((state) => [
      { state },
      s.cache.l2.circuit === state ? 1 : 0,
    ]),
  );
  gauge(
    'l2_pending_invalidations',
    'Invalidations waiting for the L2 to come back (+Inf: overflowed).',
    [],
    (s) => [[NONE, s.cache.l2.pendingInvalidations]],
  );
  gauge('bus_live', 'Whether the L1 invalidation bus is subscribed (L1 is trusted).', [], (s) => [
    [NONE, s.cache.bus.live ? 1 : 0],
  ]);
  counter('bus_messages_total', 'L1 invalidation bus messages, by direction.', ['direction'], (s) => [
    [{ direction: 'published' }, s.cache.bus.published],
    [{ direction: 'received' }, s.cache.bus.received],
  ]);
  counter('bus_reconnects_total', 'Times the bus came back after a loss (L1 was emptied).', [], (s) => [
    [NONE, s.cache.bus.reconnects],
  ]);
  gauge(
    'bus_lag_seconds',
    'Publish-to-apply delay of recent bus messages from other instances.',
    ['quantile'],
    (s) => [
      [{ quantile: '0.5' }, s.cache.bus.lagMs.p50 / 1000],
      [{ quantile: '0.99' }, s.cache.bus.lagMs.p99 / 1000],
    ],
  );
  if (wb !== undefined) {
    gauge('write_behind_pending', 'Writes queued and not yet persisted, queue-wide.', [], (s) => [
      [NONE, s.wb!.pending],
    ]);
    gauge('write_behind_oldest_pending_seconds', 'Age of the oldest write not yet persisted.', [], (s) => [
      [NONE, s.wb!.oldestPendingMs / 1000],
    ]);
    counter('write_behind_flushed_total', 'Rows this process persisted.', [], (s) => [[NONE, s.wb!.flushed]]);
    counter('write_behind_retries_total', 'Failed persist attempts that were retried.', [], (s) => [
      [NONE, s.wb!.retries],
    ]);
    counter(
      'write_behind_dead_letters_total',
      'Writes given up on and moved to the dead-letter log.',
      [],
      (s) => [[NONE, s.wb!.deadLetters]],
    );
  }
  const loads = new Histogram({
    name: `${p}load_duration_seconds`,
    help: 'Loader run time, by result.',
    labelNames: ['result'],
    buckets: [...buckets],
    registers: [],
  });
  // Zero series up front, so both results show before the first load.
  loads.zero({ result: 'ok' });
  loads.zero({ result: 'error' });
  metrics.push({ name: `${p}load_duration_seconds`, metric: loads });

  const taken = metrics.map((m) => m.name).filter((n) => registry.getSingleMetric(n) !== undefined);
  if (taken.length > 0)
    throw new CacheConfigError(
      'prefix',
      p,
      `${taken.join(', ')} already registered in this registry: give each cache its own prefix or registry`,
    );
  for (const m of metrics) registry.registerMetric(m.metric);
  const onLoad = (e: CacheEventMap['load']) => loads.observe({ result: e.ok ? 'ok' : 'error' }, e.ms / 1000);
  cache.on('load', onLoad);

  let closed = false;
  return {
    registry,
    metrics: () => registry.metrics(),
    get contentType() {
      return registry.contentType;
    },
    handler(_req, res) {
      registry.metrics().then(
        (body) => {
          res.statusCode = 200;
          res.setHeader('Content-Type', registry.contentType);
          res.end(body);
        },
        (err: unknown) => {
          res.statusCode = 500;
          res.setHeader('Content-Type', 'text/plain; charset=utf-8');
          res.end(`metrics failed: ${(err as Error)?.message ?? String(err)}\n`);
        },
      );
    },
    close() {
      if (closed) return;
      closed = true;
      cache.off('load', onLoad);
      for (const m of metrics)
        if (registry.getSingleMetric(m.name) === m.metric) registry.removeSingleMetric(m.name);
    },
  };
}

function checkBuckets(b: unknown): readonly number[] {
  const ok =
    Array.isArray(b) &&
    b.length > 0 &&
    b.every((x, i) => typeof x === 'number' && Number.isFinite(x) && x > 0 && (i === 0 || x > b[i - 1]));
  if (!ok) throw new CacheConfigError('buckets', b, 'expected increasing positive numbers of seconds');
  return b as readonly number[];
}
