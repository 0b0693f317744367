import { CacheConfigError } from '../errors';
import { type Duration, parseDuration } from './duration';

/** A TTL: a fixed duration, or a function of the loaded value (e.g. shorter for drafts). */
export type TtlOption<T = unknown> = Duration | ((value: T) => Duration);

/** TTL settings after validation; times are in ms. */
export interface ResolvedTtl {
  readonly ttl: number | ((value: unknown) => Duration);
  /** Fraction of the TTL to spread expirations by, in [0, 1). */
  readonly jitter: number;
  readonly sliding: boolean;
  /** TTL of cached `null`/`undefined`; 0 disables negative caching. */
  readonly negativeTtl: number;
}

/** Validates a TTL option now, so a bad value fails at construction or option time, not on first miss. */
export function resolveTtlOption(option: string, value: TtlOption<any>): ResolvedTtl['ttl'] {
  return typeof value === 'function' ? value : parseDuration(option, value);
}

/** Validates a jitter option: a fraction of the TTL (`0.1` = ±10%) or an absolute duration below it. */
export function resolveJitter(option: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value >= 1) {
    throw new CacheConfigError(option, value, 'expected a fraction of the TTL in [0, 1), e.g. 0.1 for ±10%');
  }
  return value;
}

/**
 * The TTL in ms an entry of `value` gets: the loader's own choice (`ctx.setTtl`) wins,
 * then the option (fixed or a function of the value); negative caching for null/undefined; then jitter.
 */
export function computeTtl(
  settings: ResolvedTtl,
  value: unknown,
  fromLoader: number | undefined,
  maxTtl: number,
  key: string,
): number {
  let ttl: number;
  if (fromLoader !== undefined) ttl = fromLoader;
  else if (value === null || value === undefined) ttl = settings.negativeTtl;
  else if (typeof settings.ttl === 'function')
    ttl = parseDuration(`ttl() for key "${key}"`, settings.ttl(value));
  else ttl = settings.ttl;
  if (ttl <= 0) return 0;
  if (settings.jitter > 0) {
    // Symmetric jitter keeps the mean TTL what the user asked for.
    ttl = Math.max(1, Math.round(ttl * (1 + settings.jitter * (2 * Math.random() - 1))));
  }
  return Math.min(ttl, maxTtl);
}
