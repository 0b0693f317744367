import type { PendingIssue } from './config_error';

/** Environment variables to read `${VAR}` from; `process.env` by default. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;

// `$${` is the escape; `${…}` a reference, its closing brace missing when group 2 is absent.
const REFERENCE = /\$\$\{|\$\{([^}]*)(\})?/g;
const BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;
const SYNTAX = 'a reference like ${NAME} or ${NAME:-default}';

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string value (never in keys) of a parsed
 * config, returning a new tree. As in a shell, the default is used when the variable is unset
 * or empty, and `$${X}` writes a literal `${X}`. Every unset variable without a default, and
 * every malformed reference, is returned as an issue at its path; such a string is left as it was.
 */
export function interpolateEnv(
  value: unknown,
  env: ConfigEnv,
  path: PropertyKey[] = [],
  issues: PendingIssue[] = [],
): { value: unknown; issues: PendingIssue[] } {
  return { value: walk(value, env, path, issues), issues };
}

function walk(value: unknown, env: ConfigEnv, path: PropertyKey[], issues: PendingIssue[]): unknown {
  if (typeof value === 'string') return substitute(value, env, path, issues);
  if (Array.isArray(value)) return value.map((v, i) => walk(v, env, [...path, i], issues));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, env, [...path, k], issues);
    return out;
  }
  return value;
}

function substitute(text: string, env: ConfigEnv, path: PropertyKey[], issues: PendingIssue[]): string {
  if (!text.includes('${')) return text;
  const before = issues.length;
  const out = text.replace(REFERENCE, (match, body: string | undefined, close: string | undefined) => {
    if (match === '$${') return '${';
    const m = close === undefined ? null : BODY.exec(body ?? '');
    if (m === null) {
      issues.push({ path, value: text, reason: `expected ${SYNTAX}, got ${JSON.stringify(match)}` });
      return match;
    }
    const [, name, fallback] = m;
    if (fallback !== undefined && fallback.includes('${')) {
      // The default ends at the first `}`, so a nested reference would be cut in half: say so.
      issues.push({
        path,
        value: text,
        reason: `expected a plain default in \${${name}:-…}, got a nested reference`,
      });
      return match;
    }
    const set = env[name];
    if (fallback !== undefined) return set === undefined || set === '' ? fallback : set;
    if (set === undefined) {
      issues.push({
        path,
        value: text,
        reason: `expected environment variable ${name} to be set (or a default: \${${name}:-…}), got no such variable`,
      });
      return match;
    }
    return set;
  });
  return issues.length > before ? text : out;
}
