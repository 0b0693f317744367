import {
  CacheConfigFileError,
  type ConfigIssue,
  describeValue,
  formatPath,
  type PendingIssue,
} from './config_error';
import { type ConfigEnv, interpolateEnv } from './interpolate';
import { withoutReservedKeys } from './reserved_keys';
import { cacheSectionSchema } from './schema';
import { type ConfigSource, FILE_PATH, readSource } from './source';
import type { CachekitConfig } from './types';

/** Options of `loadConfig`. */
export interface LoadConfigOptions {
  /** Variables for `${VAR}` references; default `process.env`. */
  env?: ConfigEnv;
}

/**
 * Loads a cachekit config file (or YAML/JSON text), substitutes `${ENV_VAR}` references, and
 * validates it. The settings sit under a top-level `cache:` key, or make up the whole document.
 *
 * UNITS: in the file a bare number duration means SECONDS (`default_ttl: 3600` is one hour),
 * while the returned config, like the rest of the TypeScript API, is in MILLISECONDS
 * (`defaultTtl: 3_600_000`). Strings use the duration syntax: `'90s'`, `'15m'`, `'1h'`, `'1d'`,
 * `'250ms'`. Sizes are bytes or `'512kb'`/`'64mb'`/`'1gb'` (binary units).
 *
 * References: `${VAR}`, `${VAR:-default}` (used when VAR is unset or empty), `$${X}` for a
 * literal `${X}`. They are replaced in string values only; numbers and booleans also accept
 * their string form, so `port: ${REDIS_PORT}` works.
 *
 * Throws a `CacheConfigFileError` (a `CacheConfigError`) listing every problem found, one a line,
 * each as `path: expected …, got …`; its `option` is the first problem's dotted path, or `(file)`
 * when the file cannot be read or parsed.
 */
export function loadConfig(source: ConfigSource, options: LoadConfigOptions = {}): CachekitConfig {
  const parsed = readSource(source);
  const { data, file } = parsed;
  const issues: { issue: PendingIssue; at: readonly PropertyKey[] }[] = [];

  // The settings' paths are reported relative to the cache section, as the engine names options.
  let section: unknown = data;
  let base: PropertyKey[] = [];
  if (isMapping(data) && Object.hasOwn(data, 'cache')) {
    section = data.cache;
    base = ['cache'];
    for (const key of Object.keys(data)) {
      if (key === 'cache') continue;
      const issue = {
        path: [key],
        value: data[key],
        reason: `expected only a cache key at the top level, got "${key}"`,
      };
      issues.push({ issue, at: [key] });
    }
  }
  if (!isMapping(section)) {
    const hint =
      typeof source === 'string' &&
      typeof section === 'string' &&
      /^[^\n]*\.(ya?ml|json)$/i.test(source.trim())
        ? ' (to read a file, pass { path })'
        : '';
    throw new CacheConfigFileError(
      [
        {
          path: base.length > 0 ? 'cache' : FILE_PATH,
          value: section,
          line: parsed.lineOf(base),
          reason: `expected a mapping of cache settings, got ${describeValue(section)}${hint}`,
        },
      ],
      file,
    );
  }

  const reserved: PendingIssue[] = [];
  const plain = withoutReservedKeys(section, reserved);
  for (const issue of reserved) issues.push({ issue, at: [...base, ...issue.path] });

  const env = interpolateEnv(plain, options.env ?? process.env);
  for (const issue of env.issues) issues.push({ issue, at: [...base, ...issue.path] });

  const result = cacheSectionSchema.safeParse(env.value, { reportInput: true });
  if (result.success && issues.length === 0) return result.data;
  if (!result.success) {
    // A value whose reference could not be resolved was left as written; its type error is noise.
    const unresolved = env.issues.map((i) => formatPath(i.path));
    for (const zi of result.error.issues) {
      const path = formatPath(zi.path);
      if (unresolved.some((u) => path === u || path.startsWith(`${u}.`) || path.startsWith(`${u}[`)))
        continue;
      const issue = { path: zi.path, value: (zi as { input?: unknown }).input, reason: zi.message };
      issues.push({ issue, at: [...base, ...zi.path] });
    }
  }

  const located = issues.map(({ issue, at }): ConfigIssue => ({
    path: formatPath(issue.path),
    reason: issue.reason,
    value: issue.value,
    line: parsed.lineOf(at),
  }));
  // Source order reads naturally and makes `option` the first problem in the file. sort() is stable.
  located.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  throw new CacheConfigFileError(located, file);
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
