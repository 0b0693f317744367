/*
 * Parsers of the scalar values a config file holds. Each returns the value in the unit the
 * TypeScript API uses, or a Mismatch saying what was expected; the schema adds the path and
 * what was got. Numbers, durations, sizes and booleans also accept their string spelling,
 * because `${ENV_VAR}` interpolation always yields a string (e.g. `port: ${REDIS_PORT}`).
 */
import { parseDuration } from '../engine/duration';

/** What a value should have been, for an `expected …, got …` message. */
export class Mismatch {
  constructor(
    /** E.g. `a duration like "15m"`. */
    readonly expected: string,
  ) {}
}

/** Turns a raw config value into a typed one, or says what was expected. */
export type ValueParser<T> = (value: unknown) => T | Mismatch;

/** What a malformed duration was expected to look like. */
export const DURATION_EXPECTED = 'a duration like "15m"';

const DECIMAL = /^\d+(?:\.\d+)?$/;

/**
 * A duration in the config file, returned in ms. A bare number — or a string of digits, which is
 * what `${VAR}` yields — means SECONDS, as in `default_ttl: 3600  # 1 hour`; strings with a unit
 * (`'90s'`, `'15m'`, `'1h'`, `'1d'`, `'250ms'`) use the engine's duration syntax.
 */
export function configDuration(value: unknown): number | Mismatch {
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return new Mismatch(DURATION_EXPECTED);
    ms = value * 1000;
  } else if (typeof value === 'string') {
    const s = value.trim();
    // Checked before the engine's parser, which would read digits as milliseconds.
    if (DECIMAL.test(s)) ms = Number(s) * 1000;
    else {
      try {
        ms = parseDuration('', s, true);
      } catch {
        return new Mismatch(DURATION_EXPECTED);
      }
    }
  } else return new Mismatch(DURATION_EXPECTED);
  ms = Math.round(ms);
  // A zero TTL or timeout almost always hides a mistake (a unit slip, an empty env var).
  return ms > 0 ? ms : new Mismatch('a duration greater than zero');
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?$/i;
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
const SIZE_EXPECTED = 'a size like "64mb" or a number of bytes';

/**
 * A size in bytes: a number of bytes, or a string such as `'512kb'`, `'64mb'`, `'1gb'`. Units are
 * binary (1 kb = 1024 bytes), as Redis reads `maxmemory 1gb` and as L1's 64 MiB default is meant.
 */
export function byteSize(value: unknown): number | Mismatch {
  let bytes: number;
  if (typeof value === 'number') bytes = value;
  else if (typeof value === 'string') {
    const m = SIZE.exec(value.trim());
    if (!m) return new Mismatch(SIZE_EXPECTED);
    bytes = Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()];
  } else return new Mismatch(SIZE_EXPECTED);
  if (!Number.isFinite(bytes)) return new Mismatch(SIZE_EXPECTED);
  bytes = Math.round(bytes);
  return bytes > 0 ? bytes : new Mismatch('a size greater than zero');
}

/** An integer in `[min, max]`, e.g. a port; `expected` words the range for the message. */
export function integerIn(min: number, max: number, expected: string): ValueParser<number> {
  return (value) => {
    const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) return new Mismatch(expected);
    return n;
  };
}

/** `true` or `false` (also as the strings `"true"`/`"false"`, any case, for env interpolation). */
export function flag(value: unknown): boolean | Mismatch {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const s = value.trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  return new Mismatch('true or false');
}

/** A fraction of the TTL to spread expirations by, in [0, 1), as the engine's `jitter`. */
export function fraction(value: unknown): number | Mismatch {
  const n = typeof value === 'string' && DECIMAL.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n >= 1) {
    return new Mismatch('a fraction of the TTL in [0, 1), e.g. 0.1 for ±10%');
  }
  return n;
}

const CRON_FIELD = /^[0-9A-Za-z*/,?#-]+$/;

/**
 * A cron expression: 5 fields (minute to weekday) or 6 (with seconds). Only the shape is checked
 * here; the scheduler that runs it validates each field's range.
 */
export function cronExpression(value: unknown): string | Mismatch {
  const expected = new Mismatch('a cron expression of 5 or 6 fields like "0 */6 * * *"');
  if (typeof value !== 'string') return expected;
  const fields = value.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6 || !fields.every((f) => CRON_FIELD.test(f))) return expected;
  return fields.join(' ');
}

/** A domain event name such as `user.updated`: non-empty, no spaces (a space is almost always a typo). */
export function eventName(value: unknown): string | Mismatch {
  if (typeof value !== 'string' || value === '' || /\s/.test(value)) {
    return new Mismatch('an event name like "user.updated"');
  }
  return value;
}
