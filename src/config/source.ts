import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { type Document, isNode, LineCounter, parseDocument } from 'yaml';
import { CacheConfigFileError, type ConfigIssue } from './config_error';

/**
 * Config text (always read as YAML, which JSON text also is), or a file to read it from: `.json`
 * files are read as JSON, anything else as YAML; a relative path is resolved against the cwd.
 */
export type ConfigSource = string | { path: string };

/** Where document-level problems (unreadable file, syntax) are reported, as no option is at fault. */
export const FILE_PATH = '(file)';

/** A parsed config document: its plain data, and how to find a value's line for error messages. */
export interface ParsedSource {
  /** The document as plain JSON-like data. */
  readonly data: unknown;
  /** The file it came from, if any. */
  readonly file: string | undefined;
  /** 1-based line of the value at `path` (or of its nearest ancestor present in the text). */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

/** Reads and parses a config source, throwing a CacheConfigFileError at `(file)` for unreadable or malformed text. */
export function readSource(source: ConfigSource): ParsedSource {
  let text: string;
  let file: string | undefined;
  if (typeof source === 'string') text = source;
  else if (source !== null && typeof source === 'object' && typeof source.path === 'string') {
    file = source.path;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw fileError(`expected a readable file, got ${(err as Error).message}`, file, file);
    }
  } else {
    throw fileError('expected config text or { path }, got something else', source, undefined);
  }

  const json = file !== undefined && extname(file).toLowerCase() === '.json';
  const lines = new LineCounter();
  // The JSON schema makes YAML-only spellings (unquoted strings, comments) errors in a .json file.
  // Merge keys (`<<: *defaults`) are a common way to share policy settings in YAML.
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    schema: json ? 'json' : 'core',
    merge: !json,
  });
  if (doc.errors.length > 0) {
    const kind = json ? 'JSON' : 'YAML';
    const sourceLines = text.split(/\r?\n/);
    const hinted = new Set<number>();
    throw new CacheConfigFileError(
      doc.errors.map((e): ConfigIssue => {
        const { line, col } = lines.linePos(e.pos[0]);
        // An unquoted `${VAR}` inside `{ }` or `[ ]` is read as flow syntax: the usual cause of
        // errors on a line holding one, so say so (once a line: one slip yields several errors).
        let hint = '';
        if (!hinted.has(line) && /\$\{/.test(sourceLines[line - 1] ?? '')) {
          hinted.add(line);
          hint = ' (quote ${VAR} references inside { } or [ ], e.g. "${VAR}")';
        }
        return {
          path: FILE_PATH,
          value: file,
          line,
          reason: `${kind} syntax error at line ${line}, column ${col}: ${e.message}${hint}`,
        };
      }),
      file,
    );
  }

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    // toJS throws, for instance, when aliases expand too much (a "billion laughs" file).
    throw fileError(
      `expected a plain ${json ? 'JSON' : 'YAML'} document, got ${(err as Error).message}`,
      file,
      file,
    );
  }
  return { data, file, lineOf: (path) => lineOf(doc, lines, path) };
}

function lineOf(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): number | undefined {
  // Values that came from a merge key or an alias are not at their path in the text: use the
  // nearest ancestor that is, which is still the right place to look.
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function fileError(reason: string, value: unknown, file: string | undefined): CacheConfigFileError {
  return new CacheConfigFileError([{ path: FILE_PATH, value, reason }], file);
}
