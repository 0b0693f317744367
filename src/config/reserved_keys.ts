import type { PendingIssue } from './config_error';

/**
 * Copies parsed data, leaving out and reporting `__proto__` keys. The YAML parser keeps such a
 * key as a plain property, but any later `obj[key] = …` (ours or zod's) would make it the
 * object's prototype, so that `__proto__: { type: redis }` would silently set `type`.
 */
export function withoutReservedKeys(
  value: unknown,
  issues: PendingIssue[],
  path: PropertyKey[] = [],
): unknown {
  if (Array.isArray(value)) return value.map((v, i) => withoutReservedKeys(v, issues, [...path, i]));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === '__proto__') {
      issues.push({
        path: [...path, k],
        value: v,
        reason: 'expected a setting name, got the reserved key "__proto__"',
      });
    } else out[k] = withoutReservedKeys(v, issues, [...path, k]);
  }
  return out;
}
