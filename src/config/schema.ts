/*
 * The zod schema of a config file's cache section. It reads the file's snake_case keys and
 * produces a CachekitConfig in camelCase and engine units. Every message it makes is
 * `expected …, got …`; the loader puts the path in front.
 */
import { z } from 'zod';
import type { PolicyOptions } from '../engine/options';
import { isHeaderSafe } from '../engine/entry';
import { compact } from './compact';
import { describeValue } from './config_error';
import { closestName } from './suggest';
import {
  type CacheType,
  type CachekitConfig,
  type ConnectionConfig,
  EVICTION_POLICIES,
  type EvictionConfig,
  type EvictionPolicy,
  type L1Config,
  type MonitoringConfig,
  type PoolConfig,
} from './types';
import {
  byteSize,
  configDuration,
  cronExpression,
  DURATION_EXPECTED,
  eventName,
  flag,
  fraction,
  integerIn,
  Mismatch,
  type ValueParser,
} from './values';

/** A schema for one scalar, whose parser says what it expected when the value does not fit. */
function leaf<T>(parse: ValueParser<T>) {
  return z.unknown().transform((value, ctx): T => {
    const r = parse(value);
    if (r instanceof Mismatch) {
      ctx.addIssue({
        code: 'custom',
        input: value,
        message: `expected ${r.expected}, got ${describeValue(value)}`,
      });
      return z.NEVER;
    }
    return r;
  });
}

/**
 * A mapping with a fixed set of keys. Unknown keys are errors (a typo such as `sliding_tll` must
 * not be silently ignored), one issue per key so that each gets its own path; they are found even
 * when other keys are invalid too, which zod's own strict mode would report as one issue.
 */
function section<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape);
  return z
    .looseObject(shape, {
      error: (iss) =>
        iss.code === 'invalid_type' ? `expected a mapping, got ${describeValue(iss.input)}` : undefined,
    })
    .superRefine(
      (obj, ctx) => {
        // Not a mapping: the invalid_type issue above already says so.
        if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return;
        for (const key of Object.keys(obj)) {
          if (Object.hasOwn(shape, key)) continue;
          const guess = closestName(key, known);
          ctx.addIssue({
            code: 'custom',
            path: [key],
            input: obj[key],
            message:
              `expected one of ${known.join(', ')}, got unknown key "${key}"` +
              (guess ? ` (did you mean "${guess}"?)` : ''),
          });
        }
      },
      // Run even when a known key failed, so that every problem is reported in one go.
      { when: () => true },
    );
}

/** A value from a fixed list, e.g. the cache type. */
function oneOf<T extends string>(values: readonly T[]): ValueParser<T> {
  const expected = new Mismatch(`one of ${values.map((v) => `"${v}"`).join(', ')}`);
  return (value) => (values.includes(value as T) ? (value as T) : expected);
}

/** A string that passes `ok`; `expected` words the rule for the message. */
function text(expected: string, ok: (s: string) => boolean): ValueParser<string> {
  return (value) => (typeof value === 'string' && ok(value) ? value : new Mismatch(expected));
}

/** A list whose items each get their own path (`invalidate_on[1]`) in messages. */
function listOf<T>(parse: ValueParser<T>, expected: string) {
  return z.array(leaf(parse), {
    error: (iss) =>
      iss.code === 'invalid_type' ? `expected ${expected}, got ${describeValue(iss.input)}` : undefined,
  });
}

const duration = leaf(configDuration);
const boolean = leaf(flag);
const positiveInt = leaf(integerIn(1, Number.MAX_SAFE_INTEGER, 'a positive integer'));
const nonNegativeInt = leaf(integerIn(0, Number.MAX_SAFE_INTEGER, 'a non-negative integer'));

/** A TTL for null/undefined results: a duration, or `false` not to cache them. */
const negativeTtl = leaf<number | false>((value) => {
  if (value === false || (typeof value === 'string' && value.trim().toLowerCase() === 'false')) return false;
  const r = configDuration(value);
  return r instanceof Mismatch && r.expected === DURATION_EXPECTED
    ? new Mismatch(`${r.expected} or false`)
    : r;
});

// The engine's rule for tags (they travel in a line-based entry header).
const tag = leaf(
  text('a non-empty, well-formed tag without line breaks or \\x1f', (s) => s !== '' && isHeaderSafe(s)),
);

const lockSection = section({
  ttl: duration.optional(),
  wait: duration.optional(),
  on_timeout: leaf(oneOf(['load', 'fail'] as const)).optional(),
});

/** `lock: true`, or its settings; issues of the settings keep their own paths. */
const lockSetting = z.unknown().transform((value, ctx) => {
  const b = flag(value);
  if (!(b instanceof Mismatch)) return b;
  const r = lockSection.safeParse(value);
  if (r.success) return r.data;
  for (const issue of r.error.issues) {
    ctx.addIssue({ code: 'custom', input: value, message: issue.message, path: issue.path });
  }
  return z.NEVER;
});

const policy = section({
  ttl: duration.optional(),
  sliding_ttl: boolean.optional(),
  negative_ttl: negativeTtl.optional(),
  jitter: leaf(fraction).optional(),
  tags: z
    .array(tag, {
      error: (iss) =>
        iss.code === 'invalid_type' ? `expected a list of tags, got ${describeValue(iss.input)}` : undefined,
    })
    .optional(),
  warm_on_startup: boolean.optional(),
  warm_schedule: leaf(cronExpression).optional(),
  invalidate_on: listOf(eventName, 'a list of event names').optional(),
  grace: negativeTtl.optional(),
  grace_backoff: duration.optional(),
  encrypt: boolean.optional(),
  grace_on_invalidate: boolean.optional(),
  refresh_ahead: leaf(fraction).optional(),
  early_refresh: leaf<boolean | number>((value) => {
    const b = flag(value);
    if (!(b instanceof Mismatch)) return b;
    return typeof value === 'number' && Number.isFinite(value) && value > 0
      ? value
      : new Mismatch('true, false or a beta > 0');
  }).optional(),
  adaptive_ttl: section({
    min: duration,
    max: duration,
    hits_for_max: positiveInt.optional(),
    half_life: duration.optional(),
  }).optional(),
  timeouts: section({ soft: duration.optional(), hard: duration.optional() }).optional(),
  lock: lockSetting.optional(),
}).transform((p): PolicyOptions =>
  compact({
    ttl: p.ttl,
    sliding: p.sliding_ttl,
    negativeTtl: p.negative_ttl,
    jitter: p.jitter,
    tags: p.tags,
    grace: p.grace,
    graceBackoff: p.grace_backoff,
    encrypt: p.encrypt,
    graceOnInvalidate: p.grace_on_invalidate,
    refreshAhead: p.refresh_ahead,
    earlyRefresh: p.early_refresh,
    adaptiveTtl: p.adaptive_ttl
      ? compact({
          min: p.adaptive_ttl.min,
          max: p.adaptive_ttl.max,
          hitsForMax: p.adaptive_ttl.hits_for_max,
          halfLife: p.adaptive_ttl.half_life,
        })
      : undefined,
    timeouts: p.timeouts ? compact({ soft: p.timeouts.soft, hard: p.timeouts.hard }) : undefined,
    lock:
      typeof p.lock === 'object'
        ? compact({ ttl: p.lock.ttl, wait: p.lock.wait, onTimeout: p.lock.on_timeout })
        : p.lock,
    warmOnStartup: p.warm_on_startup,
    warmSchedule: p.warm_schedule,
    invalidateOn: p.invalidate_on,
  }),
);

/** What a `redis://` URL says, for the checks against the fields that would repeat it. */
function urlParts(url: string): { tls: boolean; password: boolean; database: boolean } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // The url field reports its own error; nothing here to compare against.
    return { tls: false, password: false, database: false };
  }
  return { tls: u.protocol === 'rediss:', password: u.password !== '', database: u.pathname.length > 1 };
}

const redisUrl = text('a URL like "redis://host:6379"', (s) => {
  try {
    return /^rediss?:$/.test(new URL(s).protocol);
  } catch {
    return false;
  }
});

const connection = section({
  host: leaf(text('a host name like "redis.example.com"', (s) => /^[^\s/]+$/.test(s))).optional(),
  port: leaf(integerIn(1, 65535, 'a port number from 1 to 65535')).optional(),
  // Rejecting numbers keeps `password: 0123` from silently becoming "123".
  password: leaf(text('a string (quote a numeric password)', () => true)).optional(),
  database: nonNegativeInt.optional(),
  url: leaf(redisUrl).optional(),
  tls: boolean.optional(),
})
  .superRefine((c, ctx) => {
    if (c.url === undefined) return;
    const add = (key: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [key], input: c[key], message });
    // ioredis lets the URL win silently over host, port, password and db; make the user choose.
    if (c.host !== undefined) add('host', 'expected either url or host, got both');
    if (c.port !== undefined) add('port', 'expected either url or port, got both');
    const u = urlParts(c.url);
    if (u.password && c.password) add('password', 'expected the password in url or here, got both');
    if (u.database && c.database !== undefined)
      add('database', 'expected the database in url or here, got both');
    if (u.tls && c.tls === false) add('tls', 'expected true or nothing with a rediss:// url, got false');
  })
  .transform((c): ConnectionConfig =>
    compact({
      host: c.host,
      port: c.port,
      password: c.password === '' ? undefined : c.password,
      database: c.database,
      url: c.url,
      tls: c.tls,
    }),
  );

const pool = section({
  max_connections: positiveInt.optional(),
  min_idle: nonNegativeInt.optional(),
  connection_timeout: duration.optional(),
})
  .superRefine((p, ctx) => {
    if (p.max_connections !== undefined && p.min_idle !== undefined && p.min_idle > p.max_connections) {
      ctx.addIssue({
        code: 'custom',
        path: ['min_idle'],
        input: p.min_idle,
        message: `expected at most max_connections (${p.max_connections}), got ${p.min_idle}`,
      });
    }
  })
  .transform((p): PoolConfig =>
    compact({
      maxConnections: p.max_connections,
      minIdle: p.min_idle,
      connectionTimeout: p.connection_timeout,
    }),
  );

const l1 = section({ max_entries: positiveInt.optional(), max_bytes: leaf(byteSize).optional() }).transform(
  (l): L1Config => compact({ maxEntries: l.max_entries, maxBytes: l.max_bytes }),
);

const eviction = section({
  policy: leaf<EvictionPolicy>(oneOf(EVICTION_POLICIES)).optional(),
  max_memory: leaf(byteSize).optional(),
}).transform((e): EvictionConfig => compact({ policy: e.policy, maxMemory: e.max_memory }));

const monitoring = section({
  metrics_enabled: boolean.optional(),
  slow_log_threshold: duration.optional(),
}).transform((m): MonitoringConfig =>
  compact({ metricsEnabled: m.metrics_enabled, slowLogThreshold: m.slow_log_threshold }),
);

const policies = z.record(z.string(), policy, {
  error: (iss) =>
    iss.code === 'invalid_type'
      ? `expected a mapping of policy names to policies, got ${describeValue(iss.input)}`
      : undefined,
});

/** The cache section of a config file (the value of its `cache:` key, or the whole file). */
export const cacheSectionSchema = section({
  type: leaf<CacheType>(oneOf(['redis', 'memory', 'keyv'])).optional(),
  prefix: leaf(
    text('a non-empty prefix without spaces', (s) => s !== '' && !/\s/.test(s) && isHeaderSafe(s)),
  ).optional(),
  connection: connection.optional(),
  pool: pool.optional(),
  default_ttl: duration.optional(),
  negative_ttl: negativeTtl.optional(),
  l1: l1.optional(),
  policies: policies.optional(),
  eviction: eviction.optional(),
  monitoring: monitoring.optional(),
})
  .superRefine((c, ctx) => {
    if ((c.type ?? 'memory') !== 'memory') return;
    // These only mean something with a shared store; the likely mistake is a missing `type: redis`.
    for (const key of ['connection', 'pool', 'eviction'] as const) {
      if (c[key] === undefined) continue;
      ctx.addIssue({
        code: 'custom',
        path: [key],
        input: c[key],
        message: `expected type: redis (or keyv) for ${key} settings, got type: memory`,
      });
    }
  })
  .transform((c): CachekitConfig =>
    compact({
      type: c.type ?? 'memory',
      prefix: c.prefix,
      connection: c.connection,
      pool: c.pool,
      defaultTtl: c.default_ttl,
      negativeTtl: c.negative_ttl,
      l1: c.l1,
      policies: c.policies ?? {},
      eviction: c.eviction,
      monitoring: c.monitoring,
    }),
  );
