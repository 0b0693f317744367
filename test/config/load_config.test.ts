import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cache, CacheConfigError } from '../../src';
import {
  CacheConfigFileError,
  type CachekitConfig,
  cacheOptionsFromConfig,
  loadConfig,
  redisOptionsFromConfig,
} from '../../src/config';
import { RedisStore } from '../../src/redis';

const fixture = (name: string) => ({ path: join(__dirname, 'fixtures', name) });

/*
 * Files that do not parse are written at test time rather than kept in fixtures/: the repo's
 * lint step runs `prettier --check .`, which fails on any YAML or JSON file it cannot parse.
 */
const unparseable: Record<string, string> = {
  'syntax_error.yaml': [
    'cache:',
    '  type: memory',
    '  policies:',
    '    session:',
    '      ttl: 15m',
    '      invalidate_on: [user.updated, user.deleted',
    '  default_ttl: 1h',
    '',
  ].join('\n'),
  'not_json.json': ['{', '  "cache": {', '    "type": "memory",', '    "prefix": shop', '  }', '}', ''].join(
    '\n',
  ),
};
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'cachekit-config-'));
  for (const [name, text] of Object.entries(unparseable)) writeFileSync(join(scratch, name), text);
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});
const scratchFile = (name: string) => ({ path: join(scratch, name) });
const env = { REDIS_PASSWORD: 's3cret' };

/** Runs `fn`, which must throw a CacheConfigFileError, and returns it. */
function failure(fn: () => unknown): CacheConfigFileError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CacheConfigError);
    expect(err).toBeInstanceOf(CacheConfigFileError);
    return err as CacheConfigFileError;
  }
  throw new Error('expected a CacheConfigFileError, but nothing was thrown');
}

/** What the full fixture must load as: every TTL in ms, sizes in bytes, snake_case renamed. */
const expected: CachekitConfig = {
  type: 'redis',
  prefix: 'shop',
  connection: { host: 'redis.example.com', port: 6379, password: 's3cret', database: 0, tls: false },
  pool: { maxConnections: 100, minIdle: 10, connectionTimeout: 5_000 },
  defaultTtl: 3_600_000,
  negativeTtl: 30_000,
  l1: { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 },
  policies: {
    user_profile: {
      ttl: 1_800_000,
      warmOnStartup: true,
      invalidateOn: ['user.updated', 'user.deleted'],
      tags: ['users'],
      negativeTtl: 10_000,
      jitter: 0.1,
    },
    product_catalog: {
      ttl: 86_400_000,
      warmSchedule: '0 */6 * * *',
      invalidateOn: ['product.updated', 'catalog.refresh'],
    },
    session: { ttl: 900_000, sliding: true },
  },
  eviction: { policy: 'allkeys-lru', maxMemory: 1024 ** 3 },
  monitoring: { metricsEnabled: true, slowLogThreshold: 10 },
};

describe('loadConfig: a valid file', () => {
  test('the seed-shaped YAML file loads with ms TTLs, byte sizes, camelCase names and the env password', () => {
    const cfg = loadConfig(fixture('cache_config.yaml'), { env });
    expect(cfg).toEqual(expected);
    // The headline unit decision, spelled out: `default_ttl: 3600  # 1 hour` is seconds.
    expect(cfg.defaultTtl).toBe(3_600_000);
    expect(cfg.policies.session).toEqual({ ttl: 900_000, sliding: true });
  });

  test('the same config as a .json file loads to the same result', () => {
    expect(loadConfig(fixture('cache_config.json'), { env })).toEqual(expected);
  });

  test('text without the cache: wrapper is accepted, and strings are read as YAML', () => {
    const cfg = loadConfig(
      'type: memory\ndefault_ttl: 90s\npolicies:\n  s: { ttl: 2m, sliding_ttl: true }\n',
    );
    expect(cfg).toEqual({
      type: 'memory',
      defaultTtl: 90_000,
      policies: { s: { ttl: 120_000, sliding: true } },
    });
  });

  test('defaults: type memory and no policies', () => {
    expect(loadConfig('cache: {}')).toEqual({ type: 'memory', policies: {} });
  });

  test('a bare number, or a digit string, is seconds; a unit string is read with its unit', () => {
    const cfg = loadConfig(
      'default_ttl: "3600"\nnegative_ttl: 1.5\npolicies:\n  a: { ttl: 250ms }\n  b: { ttl: 1d }\n  c: { ttl: 45 }\n',
    );
    expect(cfg.defaultTtl).toBe(3_600_000);
    expect(cfg.negativeTtl).toBe(1_500);
    expect(cfg.policies).toEqual({ a: { ttl: 250 }, b: { ttl: 86_400_000 }, c: { ttl: 45_000 } });
  });

  test('negative_ttl: false turns negative caching off', () => {
    expect(loadConfig('negative_ttl: false').negativeTtl).toBe(false);
  });

  test('sizes: bytes or binary kb/mb/gb', () => {
    const cfg = loadConfig(
      'type: redis\nl1: { max_entries: 5, max_bytes: 512kb }\neviction: { max_memory: 2048 }\n',
    );
    expect(cfg.l1).toEqual({ maxEntries: 5, maxBytes: 512 * 1024 });
    expect(cfg.eviction).toEqual({ maxMemory: 2048 });
  });

  test('freshness, timeout and lock settings of a policy are read and reach the engine', async () => {
    const cfg = loadConfig(
      [
        'policies:',
        '  hot:',
        '    ttl: 1m',
        '    grace: 10m',
        '    grace_backoff: 5s',
        '    grace_on_invalidate: true',
        '    refresh_ahead: 0.2',
        '    early_refresh: 2',
        '    adaptive_ttl: { min: 30s, max: 1h, hits_for_max: 50, half_life: 5m }',
        '    timeouts: { soft: 50ms, hard: 2s }',
        '    lock: { ttl: 5s, wait: 1s, on_timeout: fail }',
        '  locked:',
        '    lock: true',
      ].join('\n'),
    );
    expect(cfg.policies.hot).toEqual({
      ttl: 60_000,
      grace: 600_000,
      graceBackoff: 5000,
      graceOnInvalidate: true,
      refreshAhead: 0.2,
      earlyRefresh: 2,
      adaptiveTtl: { min: 30_000, max: 3_600_000, hitsForMax: 50, halfLife: 300_000 },
      timeouts: { soft: 50, hard: 2000 },
      lock: { ttl: 5000, wait: 1000, onTimeout: 'fail' },
    });
    expect(cfg.policies.locked).toEqual({ lock: true });
    // The engine validates and accepts them as a named policy (their behaviour: test/engine/freshness).
    const cache = new Cache(cacheOptionsFromConfig(cfg));
    const calls: string[] = [];
    await cache.getOrLoad('k', () => (calls.push('load'), 1), { policy: 'hot' });
    expect(calls).toEqual(['load']);
    const bad = failure(() => loadConfig('policies:\n  p:\n    lock: { on_timeout: never }\n'));
    expect(bad.message).toContain('policies.p.lock.on_timeout: expected one of "load", "fail"');
  });

  test('YAML merge keys share settings between policies', () => {
    const cfg = loadConfig(
      'policies:\n  base: &b { ttl: 60, sliding_ttl: true }\n  s:\n    <<: *b\n    ttl: 30\n',
    );
    expect(cfg.policies.s).toEqual({ ttl: 30_000, sliding: true });
  });
});

describe('loadConfig: environment variables', () => {
  test('${VAR}, ${VAR:-default} (for unset or empty) and the $${X} escape', () => {
    const cfg = loadConfig(
      [
        'type: redis',
        'prefix: ${APP}-$${NOT_A_VAR}',
        'connection:',
        '  host: ${REDIS_HOST:-localhost}',
        '  port: ${REDIS_PORT:-6379}',
        '  password: ${EMPTY:-fallback}',
        '  tls: ${TLS}',
        'default_ttl: ${TTL}',
      ].join('\n'),
      { env: { APP: 'shop', REDIS_PORT: '6380', EMPTY: '', TLS: 'true', TTL: '120' } },
    );
    expect(cfg.prefix).toBe('shop-${NOT_A_VAR}');
    // Numbers and booleans are read from the substituted strings; a digit string TTL is seconds.
    expect(cfg.connection).toEqual({ host: 'localhost', port: 6380, password: 'fallback', tls: true });
    expect(cfg.defaultTtl).toBe(120_000);
  });

  test('process.env is the default', () => {
    process.env.CACHEKIT_CONFIG_TEST_PREFIX = 'from-process-env';
    try {
      expect(loadConfig('prefix: ${CACHEKIT_CONFIG_TEST_PREFIX}').prefix).toBe('from-process-env');
    } finally {
      delete process.env.CACHEKIT_CONFIG_TEST_PREFIX;
    }
  });

  test('an empty password (e.g. ${VAR:-}) means none', () => {
    const cfg = loadConfig('type: redis\nconnection: { host: h, password: "${PW:-}" }', { env: {} });
    expect(cfg.connection).toEqual({ host: 'h' });
  });

  test('a missing variable without default names the path and the variable', () => {
    const err = failure(() => loadConfig(fixture('missing_env.yaml'), { env: {} }));
    expect(err.option).toBe('connection.password');
    expect(err.message).toBe(
      'connection.password: expected environment variable REDIS_PASSWORD to be set (or a default: ${REDIS_PASSWORD:-…}), got no such variable',
    );
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0].line).toBe(5);
  });

  test('malformed and nested references are errors, not literal text', () => {
    const err = failure(() => loadConfig('prefix: "${1X}"\npolicies:\n  p: { tags: ["${A:-${B}}"] }\n'));
    expect(err.message.split('\n')).toEqual([
      'prefix: expected a reference like ${NAME} or ${NAME:-default}, got "${1X}"',
      'policies.p.tags[0]: expected a plain default in ${A:-…}, got a nested reference',
    ]);
  });
});

describe('cacheOptionsFromConfig and redisOptionsFromConfig', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  test('maps to engine CacheOptions, without any store', () => {
    const options = cacheOptionsFromConfig(loadConfig(fixture('cache_config.yaml'), { env }));
    expect(options).toEqual({
      prefix: 'shop',
      ttl: 3_600_000,
      negativeTtl: 30_000,
      l1: { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 },
      policies: expected.policies,
    });
    expect(options).not.toHaveProperty('l2');
  });

  test("new Cache accepts the options and a policy's TTL applies (session: 900 s, sliding)", async () => {
    jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    const cache = new Cache(cacheOptionsFromConfig(loadConfig(fixture('cache_config.yaml'), { env })));
    await cache.set('k', 1, { policy: 'session' });
    // The session policy is sliding, so reading `k` renews it: `unread` shows the plain 900 s TTL.
    await cache.set('unread', 1, { policy: 'session' });
    await cache.set('d', 2); // the default TTL: 3600 s
    jest.advanceTimersByTime(899_000);
    expect(await cache.get('k')).toBe(1);
    jest.advanceTimersByTime(2_000);
    expect(await cache.get('unread')).toBeUndefined();
    // Read at 899 s, `k` now lives until 1799 s; this read at 901 s renews it again, to 1801 s.
    expect(await cache.get('k')).toBe(1);
    jest.advanceTimersByTime(899_000);
    expect(await cache.get('d')).toBe(2);
    jest.advanceTimersByTime(2_000);
    expect(await cache.get('k')).toBeUndefined();
    jest.advanceTimersByTime(3_600_000 - 1_802_000 - 1);
    expect(await cache.get('d')).toBe(2);
    jest.advanceTimersByTime(2);
    expect(await cache.get('d')).toBeUndefined();
  });

  test('maps connection and pool to ioredis options, with a url so host and port are not overridden', () => {
    const opts = redisOptionsFromConfig(loadConfig(fixture('cache_config.yaml'), { env }));
    expect(opts).toEqual({
      url: 'redis://redis.example.com:6379',
      redis: { host: 'redis.example.com', port: 6379, password: 's3cret', db: 0, connectTimeout: 5_000 },
    });
  });

  test('RedisStore built from them targets the configured server', () => {
    const opts = redisOptionsFromConfig(loadConfig(fixture('cache_config.yaml'), { env }))!;
    // lazyConnect: build the client without opening a socket.
    const store = new RedisStore({ url: opts.url, redis: { ...opts.redis, lazyConnect: true } });
    try {
      expect(store.client.options).toMatchObject({
        host: 'redis.example.com',
        port: 6379,
        password: 's3cret',
        db: 0,
        connectTimeout: 5_000,
      });
    } finally {
      store.client.disconnect();
    }
  });

  test('a url is passed through; tls becomes ioredis tls options; other types get undefined', () => {
    const cfg = loadConfig(
      'type: redis\nconnection: { url: "redis://cache:6390/2", password: pw, tls: true }',
    );
    expect(redisOptionsFromConfig(cfg)).toEqual({
      url: 'redis://cache:6390/2',
      redis: { password: 'pw', tls: {} },
    });
    expect(redisOptionsFromConfig(loadConfig('type: memory'))).toBeUndefined();
    expect(redisOptionsFromConfig(loadConfig('type: keyv'))).toBeUndefined();
  });

  test('type redis without connection leaves the url to RedisStore (REDIS_URL or localhost)', () => {
    expect(redisOptionsFromConfig(loadConfig('type: redis'))).toEqual({ redis: {} });
  });
});

describe('loadConfig: errors', () => {
  test('a bad duration: the path first, then what was expected, then what was got', () => {
    const err = failure(() => loadConfig(fixture('bad_duration.yaml')));
    expect(err.message).toBe('policies.session.ttl: expected a duration like "15m", got "abc"');
    expect(err.option).toBe('policies.session.ttl');
    expect(err.value).toBe('abc');
    expect(err.issues).toEqual([
      {
        path: 'policies.session.ttl',
        reason: 'expected a duration like "15m", got "abc"',
        value: 'abc',
        line: 5,
      },
    ]);
  });

  test('zero and negative durations are rejected', () => {
    expect(failure(() => loadConfig('default_ttl: 0')).message).toBe(
      'default_ttl: expected a duration greater than zero, got 0',
    );
    expect(failure(() => loadConfig('default_ttl: -5m')).option).toBe('default_ttl');
  });

  test('an unknown key (a typo) is rejected with a suggestion', () => {
    const err = failure(() => loadConfig(fixture('unknown_key.yaml')));
    expect(err.option).toBe('policies.session.sliding_tll');
    expect(err.message).toBe(
      'policies.session.sliding_tll: expected one of ttl, sliding_ttl, negative_ttl, jitter, tags, ' +
        'warm_on_startup, warm_schedule, invalidate_on, grace, grace_backoff, encrypt, grace_on_invalidate, refresh_ahead, ' +
        'early_refresh, adaptive_ttl, timeouts, lock, got unknown key "sliding_tll" (did you mean "sliding_ttl"?)',
    );
  });

  test('unknown keys are rejected at every level, including next to the cache: key', () => {
    const err = failure(() => loadConfig('cache:\n  tpye: redis\nredis: {}\n'));
    expect(err.message.split('\n')).toEqual([
      'tpye: expected one of type, prefix, connection, pool, default_ttl, negative_ttl, l1, policies, ' +
        'eviction, monitoring, got unknown key "tpye" (did you mean "type"?)',
      'redis: expected only a cache key at the top level, got "redis"',
    ]);
  });

  test('a YAML syntax error is reported at (file) with its line and column', () => {
    const err = failure(() => loadConfig(scratchFile('syntax_error.yaml')));
    expect(err.option).toBe('(file)');
    expect(err.message).toMatch(/^\(file\): YAML syntax error at line 7, column 3: /);
    expect(err.issues[0].line).toBe(7);
    expect(err.file).toBe(scratchFile('syntax_error.yaml').path);
  });

  test('an unquoted ${VAR} in a flow mapping gets a hint to quote it', () => {
    const err = failure(() => loadConfig('connection: { password: ${PW} }'));
    expect(err.option).toBe('(file)');
    expect(err.message).toContain('line 1, column');
    expect(err.message).toContain('quote ${VAR} references inside { } or [ ]');
  });

  test('a .json file is parsed as JSON: YAML-only spellings are syntax errors', () => {
    const err = failure(() => loadConfig(scratchFile('not_json.json')));
    expect(err.option).toBe('(file)');
    expect(err.message).toMatch(/^\(file\): JSON syntax error at line 4, column 15: /);
  });

  test('several problems are reported together, in file order, one a line', () => {
    const err = failure(() => loadConfig(fixture('many_errors.yaml')));
    expect(err.option).toBe('type');
    expect(err.message.split('\n')).toEqual([
      'type: expected one of "redis", "memory", "keyv", got "memcached"',
      'default_ttl: expected a duration greater than zero, got 0',
      'l1.max_entries: expected a positive integer, got -5',
      'l1.max_bytes: expected a size like "64mb" or a number of bytes, got "lots"',
      'policies.session.ttl: expected a duration like "15m", got "abc"',
      'policies.session.sliding_tll: expected one of ttl, sliding_ttl, negative_ttl, jitter, tags, ' +
        'warm_on_startup, warm_schedule, invalidate_on, grace, grace_backoff, encrypt, grace_on_invalidate, refresh_ahead, ' +
        'early_refresh, adaptive_ttl, timeouts, lock, got unknown key "sliding_tll" (did you mean "sliding_ttl"?)',
      'policies.product_catalog.warm_schedule: expected a cron expression of 5 or 6 fields like "0 */6 * * *", got "0 */6 *"',
      'policies.product_catalog.invalidate_on[1]: expected an event name like "user.updated", got ""',
    ]);
    expect(err.issues.map((i) => i.line)).toEqual([2, 3, 5, 6, 9, 10, 12, 13]);
  });

  test('env and validation problems are reported together, without noise for the unresolved value', () => {
    const err = failure(() =>
      loadConfig('type: redis\nconnection:\n  port: ${PORT}\ndefault_ttl: x\n', { env: {} }),
    );
    expect(err.message.split('\n')).toEqual([
      'connection.port: expected environment variable PORT to be set (or a default: ${PORT:-…}), got no such variable',
      'default_ttl: expected a duration like "15m", got "x"',
    ]);
  });

  test('cross-field checks: url versus host, min_idle versus max_connections, connection without redis', () => {
    expect(
      failure(() => loadConfig('type: redis\nconnection: { url: "redis://a:1", host: b }')).message,
    ).toBe('connection.host: expected either url or host, got both');
    expect(failure(() => loadConfig('type: redis\npool: { max_connections: 5, min_idle: 6 }')).message).toBe(
      'pool.min_idle: expected at most max_connections (5), got 6',
    );
    expect(failure(() => loadConfig('connection: { host: h }')).message).toBe(
      'connection: expected type: redis (or keyv) for connection settings, got type: memory',
    );
  });

  test('values of the wrong kind say what they got', () => {
    const err = failure(() =>
      loadConfig(
        'type: redis\nconnection: { port: 70000, password: 123 }\npolicies:\n  p: [1]\n  q:\n    tags: x\n',
      ),
    );
    expect(err.message.split('\n')).toEqual([
      'connection.port: expected a port number from 1 to 65535, got 70000',
      'connection.password: expected a string (quote a numeric password), got 123',
      'policies.p: expected a mapping, got a list',
      'policies.q.tags: expected a list of tags, got "x"',
    ]);
  });

  test('an empty document, a missing file, and a file name passed as text', () => {
    expect(failure(() => loadConfig('')).message).toBe(
      '(file): expected a mapping of cache settings, got an empty value',
    );
    const missing = failure(() => loadConfig(fixture('does_not_exist.yaml')));
    expect(missing.option).toBe('(file)');
    expect(missing.message).toContain('ENOENT');
    expect(failure(() => loadConfig('cache_config.yaml')).message).toBe(
      '(file): expected a mapping of cache settings, got "cache_config.yaml" (to read a file, pass { path })',
    );
  });
});

describe('loadConfig: hostile input', () => {
  test('a __proto__ key is reported, and cannot set settings through the prototype', () => {
    const err = failure(() => loadConfig('__proto__: { type: redis }\npolicies:\n  __proto__: { ttl: 5 }\n'));
    expect(err.message.split('\n')).toEqual([
      '__proto__: expected a setting name, got the reserved key "__proto__"',
      'policies.__proto__: expected a setting name, got the reserved key "__proto__"',
    ]);
  });

  test('alias expansion is bounded ("billion laughs")', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      lines.push(`${cur}: &${cur} [${new Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    const err = failure(() => loadConfig(lines.join('\n')));
    expect(err.option).toBe('(file)');
    expect(err.message).toMatch(/^\(file\): expected a plain YAML document, got .*alias/i);
  });
});
