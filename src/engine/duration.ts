import ms from 'ms';
import { CacheConfigError } from '../errors';

/** A duration: milliseconds, or a string such as `'90s'`, `'5m'`, `'1h'`, `'1d'`. */
export type Duration = number | string;

/**
 * Parses a duration option to milliseconds, or throws a `CacheConfigError` naming `option`.
 * Zero is allowed only where the caller says so, since a zero TTL almost always hides a bug.
 */
export function parseDuration(option: string, value: Duration, allowZero = false): number {
  let out: number | undefined;
  if (typeof value === 'number') out = value;
  else if (typeof value === 'string' && value.trim() !== '') {
    // ms() accepts a bare number string as ms; it returns undefined for anything it cannot read.
    out = ms(value.trim() as ms.StringValue);
  }
  if (out === undefined || typeof out !== 'number' || !Number.isFinite(out)) {
    throw new CacheConfigError(
      option,
      value,
      "expected milliseconds or a duration such as '90s', '5m', '1h', '1d'",
    );
  }
  if (out < 0 || (out === 0 && !allowZero)) {
    throw new CacheConfigError(
      option,
      value,
      allowZero ? 'must not be negative' : 'must be greater than zero',
    );
  }
  return Math.round(out);
}
