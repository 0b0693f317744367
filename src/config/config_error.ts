import { CacheConfigError } from '../errors';

/** One problem found in a config file: where, what was expected and what was there. */
export interface ConfigIssue {
  /** Dotted path inside the cache section (e.g. `policies.session.ttl`), or `(file)` for the document itself. */
  readonly path: string;
  /** What is wrong, as `expected …, got …`, without the path. */
  readonly reason: string;
  /** The offending value, when there is one. */
  readonly value?: unknown;
  /** 1-based line of the value in the source, when known. */
  readonly line?: number;
}

/** A problem before its path is formatted and located in the source. */
export interface PendingIssue {
  /** Segments from the cache section down, e.g. `['policies', 'session', 'ttl']`. */
  readonly path: readonly PropertyKey[];
  readonly reason: string;
  readonly value?: unknown;
}

/**
 * Every problem of one config source at once, so that a user fixes a file in one pass rather
 * than one error per run. It is a `CacheConfigError` (its `option` is the first issue's path),
 * but its message is `path: reason`, one issue a line, because that reads best in a terminal.
 */
export class CacheConfigFileError extends CacheConfigError {
  /** All problems found, in the order they appear in the source. */
  readonly issues: readonly ConfigIssue[];
  /** The file they were found in, when the config came from a file. */
  readonly file: string | undefined;

  constructor(issues: readonly ConfigIssue[], file?: string) {
    if (issues.length === 0) throw new TypeError('CacheConfigFileError needs at least one issue');
    const first = issues[0];
    super(first.path, first.value, first.reason);
    this.issues = issues;
    this.file = file;
    // The base class words its message for a single option set in code; a file wants the path first.
    this.message = issues.map((i) => `${i.path}: ${i.reason}`).join('\n');
  }
}

/** Words a config value for an error message: strings quoted, containers by kind, YAML's empty value as such. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** Joins path segments the way the engine names options: `a.b[2].c`. */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? String(s) : `.${String(s)}`;
  }
  return out;
}
