import { type Duration, parseDuration } from '../engine/duration';
import { positiveInt } from '../engine/options';
import { CacheConfigError } from '../errors';
import type { HeatStore } from './heat_store';
import type { ProgressStream } from './progress_bar';

/** Warming settings of a cache: `new Cache({ warming: { … } })`. Every one has a default. */
export interface WarmingOptions {
  /**
   * Where replay warming keeps the hottest calls: `new RedisHeatStore({ client })` from
   * `cachekit/redis`. Without one, calls of `@Cacheable({ replay: true })` methods are not recorded.
   */
  heatStore?: HeatStore;
  /** How many of the hottest calls a cold start replays. Default 1,000. */
  replayTop?: number;
  /**
   * Most calls kept in the shared heat set; the coldest are trimmed. Larger than `replayTop`
   * so that a call growing hot can climb in before it is trimmed. Default 4 × `replayTop`.
   */
  heatCapacity?: number;
  /** How often counts are added to the heat store. Default `'30s'`. */
  flushInterval?: Duration;
  /** Most distinct calls counted in memory between two flushes. Default 10,000. */
  maxTracked?: number;
  /** Calls whose encoded arguments are longer (bytes) are not recorded. Default 1,024. */
  maxArgBytes?: number;
  /** The heat set expires this long after its last flush. Default `'7d'`. */
  heatTtl?: Duration;
  /** Longest wait for a heat store call. Default `'2s'`. */
  heatTimeout?: Duration;
  /** Calls a warm run makes at once. Default 4. */
  concurrency?: number;
  /**
   * Draw a progress bar (`warming 640/1000 popular products`) while warming: `true` for
   * `process.stdout`, or a stream. Drawn only when the stream is a TTY. Default false.
   */
  progress?: boolean | ProgressStream;
}

/** Options of one `cache.warm(...)` call; they override the cache's warming options. */
export interface WarmOptions {
  /** Calls made at once. Default: the cache's `warming.concurrency` (4). */
  concurrency?: number;
  /** Draw a progress bar on a TTY. Default: the cache's `warming.progress`. */
  progress?: boolean | ProgressStream;
  /** Replay the hottest recorded calls too. Default true for `cache.warm()` without warmers, else false. */
  replay?: boolean;
}

/** `WarmingOptions` after validation. */
export interface ResolvedWarming {
  readonly heatStore: HeatStore | undefined;
  readonly replayTop: number;
  readonly heatCapacity: number;
  readonly flushIntervalMs: number;
  readonly maxTracked: number;
  readonly maxArgBytes: number;
  readonly heatTtlMs: number;
  readonly heatTimeoutMs: number;
  readonly concurrency: number;
  readonly progress: ProgressStream | undefined;
}

/** Validates warming options, naming each bad one as `warming.<option>`. */
export function resolveWarming(o: WarmingOptions | undefined): ResolvedWarming {
  if (o !== undefined && (o === null || typeof o !== 'object'))
    throw new CacheConfigError('warming', o, 'expected an object of warming options');
  const w = o ?? {};
  const heatStore = w.heatStore;
  if (
    heatStore !== undefined &&
    (heatStore === null || typeof heatStore.add !== 'function' || typeof heatStore.top !== 'function')
  ) {
    throw new CacheConfigError('warming.heatStore', heatStore, 'expected a HeatStore such as RedisHeatStore');
  }
  const replayTop = positiveInt('warming.replayTop', w.replayTop, 1000);
  const heatCapacity = positiveInt('warming.heatCapacity', w.heatCapacity, 4 * replayTop);
  if (heatCapacity < replayTop)
    throw new CacheConfigError(
      'warming.heatCapacity',
      heatCapacity,
      `must be at least replayTop (${replayTop})`,
    );
  return {
    heatStore,
    replayTop,
    heatCapacity,
    flushIntervalMs: parseDuration('warming.flushInterval', w.flushInterval ?? '30s'),
    maxTracked: positiveInt('warming.maxTracked', w.maxTracked, 10_000),
    maxArgBytes: positiveInt('warming.maxArgBytes', w.maxArgBytes, 1024),
    heatTtlMs: parseDuration('warming.heatTtl', w.heatTtl ?? '7d'),
    heatTimeoutMs: parseDuration('warming.heatTimeout', w.heatTimeout ?? '2s'),
    concurrency: positiveInt('warming.concurrency', w.concurrency, 4),
    progress: resolveProgress('warming.progress', w.progress),
  };
}

/** A progress option as a stream, or `undefined` for none. */
export function resolveProgress(
  option: string,
  p: boolean | ProgressStream | undefined,
): ProgressStream | undefined {
  if (p === undefined || p === false) return undefined;
  if (p === true) return process.stdout;
  if (p !== null && typeof p === 'object' && typeof p.write === 'function') return p;
  throw new CacheConfigError(option, p, 'expected true, false or a stream with write()');
}
