import { createHash } from 'node:crypto';
import { CacheConfigError, CacheKeyError } from '../errors';

/*
 * Key encoding. A hand-written encoder rather than safe-stable-stringify: that library cannot
 * tell a Date, BigInt, Map or Set from its string or array form (it calls toJSON and drops
 * what JSON drops), and it is slower anyway on what keys are built from: measured 2x slower on
 * `[42, 'x']` and 1.2x on a five-key filter object. Every decorated call runs this, L1 hits
 * included, so a lone string or number argument costs no more than the result string.
 *
 * The grammar, chosen so that a key stays readable in Redis and no two inputs share one:
 *
 *   string, top level   as is, unless it is empty or starts with one of  " # - [ { 0-9,
 *                       in which case it is JSON-quoted; every other encoding starts with one
 *                       of those characters, so a bare string cannot be mistaken for them
 *   string, nested      JSON-quoted, always (that is what delimits it)
 *   number              String(n): 42, -1.5, 1e+21; -0 gives "0", so -0 and 0 share a key,
 *                       as they do as Map keys. NaN, ±Infinity: #NaN, #Infinity, #-Infinity
 *   bigint              123n
 *   boolean, null,      #true #false #null #undefined
 *   undefined
 *   Date                #Date(2020-01-01T00:00:00.000Z), #Date(NaN) when invalid
 *   Buffer, Uint8Array  #bytes(<base64>): the same bytes are the same key whichever class holds them
 *   other typed arrays  #Float64Array(<base64 of the bytes>) and so on; ArrayBuffer likewise
 *   RegExp              #RegExp("/a+/gi")
 *   array               [a,b,c]
 *   object              {"a":1,"b":2}, keys sorted, symbol keys ignored; an own property whose
 *                       value is undefined is kept ({a: undefined} is not {}): callers can tell
 *                       them apart, so merging the two could serve a wrong result, while
 *                       keeping them apart costs at most a duplicate entry
 *   class instance      its own enumerable properties, exactly like a plain object (so an
 *                       instance and a plain object with the same fields share a key). An
 *                       instance with none (URL, Error, Promise, a class holding only #private
 *                       fields) is refused: every instance would get the same key
 *   Map                 #Map{k:v,...}, entries sorted by their encoding, so insertion order does not matter
 *   Set                 #Set[a,...], sorted likewise
 *
 * Nested encodings are self-delimiting (a token, a quoted string, or a bracketed group), which
 * is what makes sorted, comma-joined lists unambiguous.
 */

/** Reasons a value cannot be walked into a key or serialized, as found by `locateUnsupported`. */
export type UnsupportedKind = 'function' | 'symbol' | 'cycle' | 'opaque';

/** Where in a value something unsupported sits, and what it is. */
export interface UnsupportedAt {
  readonly path: string;
  readonly kind: UnsupportedKind;
  /** Human wording of the problem, e.g. `is a function` or `refers back to value.owner (a cycle)`. */
  readonly reason: string;
}

/** Thrown inside the encoder, which does not track paths; the caller then locates the problem. */
const UNSUPPORTED = new Error('unsupported key input');

/** A stable, deterministic string for any key input; `path` names the root in error messages. */
export function stableKey(value: unknown, path = 'key'): string {
  switch (typeof value) {
    case 'string':
      return topString(value);
    case 'number':
      return numberKey(value);
    case 'boolean':
      return value ? '#true' : '#false';
    case 'bigint':
      return `${value}n`;
    case 'undefined':
      return '#undefined';
    case 'object':
      return value === null ? '#null' : composite(value, path);
    default:
      throw keyError(value, path);
  }
}

/** stableKey of an argument list: `''` for none, a lone primitive as stableKey gives it, else comma-joined nested encodings. */
export function argsKey(args: readonly unknown[]): string {
  const n = args.length;
  if (n === 0) return '';
  if (n === 1) {
    const a = args[0];
    // Objects are encoded as the list below would encode them; only errors need `args[0]`.
    if (typeof a !== 'object' || a === null) return stableKey(a, 'args[0]');
  }
  try {
    let out = encode(args[0], 0);
    for (let i = 1; i < n; i++) out += ',' + encode(args[i], 0);
    return out;
  } catch (err) {
    throw keyError(args, 'args', err);
  }
}

/** Cap on the key length (in UTF-16 units, like `String#length`): longer keys become a readable head, `#`, and a SHA-256 of the whole key. */
export function limitKeyLength(key: string, maxLength = 200): string {
  if (!Number.isInteger(maxLength) || maxLength < 64) {
    throw new CacheConfigError('maxKeyLength', maxLength, 'must be an integer of at least 64');
  }
  // A short key that already has the shape of a hashed one (a `#` 44 characters from the end)
  // is hashed too: otherwise a caller could pick a short key equal to the hashed form of
  // someone else's long key and read or overwrite that entry.
  // A key with a lone surrogate is hashed too: UTF-8 (what Redis stores) turns every lone
  // surrogate into U+FFFD, so '\ud800' and '\udbff' would share one entry.
  const wellFormed = (key as unknown as { isWellFormed(): boolean }).isWellFormed();
  if (
    wellFormed &&
    key.length <= maxLength &&
    !(key.length >= HASHED_TAIL && key.charCodeAt(key.length - HASHED_TAIL) === HASH)
  ) {
    return key;
  }
  let head = Math.min(maxLength >> 1, maxLength - HASHED_TAIL, key.length);
  // Do not cut a surrogate pair in half: a lone surrogate is not valid UTF-8 once it reaches Redis.
  const last = key.charCodeAt(head - 1);
  if (last >= 0xd800 && last <= 0xdbff) head--;
  const hash = createHash('sha256');
  // Such a key hashes its UTF-16 units, behind a 0xff byte that no UTF-8 text holds, so it cannot
  // share a hash input with a well-formed key.
  if (wellFormed) hash.update(key, 'utf8');
  else hash.update(ILL_FORMED_MARK).update(key, 'utf16le');
  const readable = key.slice(0, head) as unknown as { toWellFormed(): string };
  return readable.toWellFormed() + '#' + hash.digest('base64url');
}

/** Starts the hash input of a key with a lone surrogate: a byte UTF-8 never produces. */
const ILL_FORMED_MARK = Buffer.from([0xff]);

/** `#` plus 43 characters of base64url SHA-256. */
const HASHED_TAIL = 44;
const HASH = 0x23;

/** Appends one property step to a path: `.name`, `["odd key"]` or `[3]`. */
function appendPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * Finds the first function, symbol, cycle or opaque object in a value, with its path, walking
 * what keys and serializers walk: arrays, own enumerable string-keyed properties, Map keys and
 * values, Set members. Slow (it builds paths as it goes) and only run once something failed.
 * `mode` decides what counts as opaque: for keys, any class instance with no own enumerable
 * property; for values, a Promise, WeakMap, WeakSet or WeakRef.
 */
export function locateUnsupported(
  value: unknown,
  root: string,
  mode: 'key' | 'value',
): UnsupportedAt | undefined {
  const ancestors: object[] = [];
  const paths: string[] = [];
  const visit = (v: unknown, path: string): UnsupportedAt | undefined => {
    if (typeof v === 'function') return { path, kind: 'function', reason: 'is a function' };
    if (typeof v === 'symbol') return { path, kind: 'symbol', reason: 'is a symbol' };
    if (typeof v !== 'object' || v === null) return undefined;
    const at = ancestors.indexOf(v);
    if (at !== -1) return { path, kind: 'cycle', reason: `refers back to ${paths[at]} (a cycle)` };
    if (v instanceof Date || ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof RegExp)
      return undefined;
    const opaque =
      Array.isArray(v) || v instanceof Map || v instanceof Set ? undefined : opaqueReason(v, mode);
    if (opaque !== undefined) return { path, kind: 'opaque', reason: opaque };
    ancestors.push(v);
    paths.push(path);
    let found: UnsupportedAt | undefined;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length && !found; i++) found = visit(v[i], `${path}[${i}]`);
    } else if (v instanceof Map) {
      let i = 0;
      for (const [k, x] of v) {
        found = visit(k, `${path}.keys()[${i}]`) ?? visit(x, `${path}.get(${describeMapKey(k, i)})`);
        if (found) break;
        i++;
      }
    } else if (v instanceof Set) {
      let i = 0;
      for (const x of v) {
        if ((found = visit(x, `${path}.values()[${i++}]`))) break;
      }
    } else {
      for (const k of Object.keys(v)) {
        if ((found = visit((v as Record<string, unknown>)[k], appendPath(path, k)))) break;
      }
    }
    ancestors.pop();
    paths.pop();
    return found;
  };
  return visit(value, root);
}

function opaqueReason(v: object, mode: 'key' | 'value'): string | undefined {
  if (mode === 'value') {
    if (v instanceof Promise) return 'is a Promise (a missing await?)';
    if (v instanceof WeakMap || v instanceof WeakSet || v instanceof WeakRef)
      return `is a ${v.constructor.name}, whose contents cannot be read`;
    return undefined;
  }
  return isOpaqueInstance(v) ? opaqueKeyReason(v) : undefined;
}

function describeMapKey(k: unknown, i: number): string {
  switch (typeof k) {
    case 'string':
      return JSON.stringify(k);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(k);
    case 'bigint':
      return `${k}n`;
    default:
      return k === null ? 'null' : `<key #${i}>`;
  }
}

/** The key of a lone string: as is, or JSON-quoted when it could be read as another encoding (so `'1'` is not `[1]`). */
export function topString(s: string): string {
  if (s.length === 0) return '""';
  const c = s.charCodeAt(0);
  // " # - 0-9 [ {  start every non-string encoding; see the grammar above.
  return c === 0x22 || c === 0x23 || c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x5b || c === 0x7b
    ? JSON.stringify(s)
    : s;
}

/** JSON.stringify of a string, skipping its call overhead for the short, escape-free strings keys and values are mostly made of. */
export function jsonQuote(s: string): string {
  // Past ~32 characters the native escaper measured faster than this loop.
  if (s.length > 32) return JSON.stringify(s);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Control characters, `"`, `\` and surrogates (lone ones are escaped) go the long way.
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return '"' + s + '"';
}

function numberKey(n: number): string {
  if (n === n && n !== Infinity && n !== -Infinity) return String(n);
  return n !== n ? '#NaN' : n > 0 ? '#Infinity' : '#-Infinity';
}

function composite(value: object, path: string): string {
  try {
    return encodeObject(value, 0);
  } catch (err) {
    throw keyError(value, path, err);
  }
}

/**
 * Deeper than this, the encoder gives up and `locateUnsupported` says why (usually a cycle).
 * Counting depth costs less than tracking ancestors, and no real key input is nested this deep.
 */
const MAX_DEPTH = 256;

/** The nested encoding of any value. */
function encode(v: unknown, depth: number): string {
  switch (typeof v) {
    case 'string':
      return jsonQuote(v);
    case 'number':
      return numberKey(v);
    case 'boolean':
      return v ? '#true' : '#false';
    case 'bigint':
      return `${v}n`;
    case 'undefined':
      return '#undefined';
    case 'object':
      return v === null ? '#null' : encodeObject(v, depth);
    default:
      throw UNSUPPORTED;
  }
}

function encodeObject(o: object, depth: number): string {
  if (++depth > MAX_DEPTH) throw UNSUPPORTED;
  if (Array.isArray(o)) {
    let out = '[';
    for (let i = 0; i < o.length; i++) out += (i === 0 ? '' : ',') + encode(o[i], depth);
    return out + ']';
  }
  const proto = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null) return encodeProps(o, depth);
  if (o instanceof Date) {
    const t = o.getTime();
    return t === t ? `#Date(${o.toISOString()})` : '#Date(NaN)';
  }
  if (o instanceof Map) {
    const entries: string[] = [];
    for (const [k, v] of o) entries.push(encode(k, depth) + ':' + encode(v, depth));
    return `#Map{${entries.sort().join(',')}}`;
  }
  if (o instanceof Set) {
    const members: string[] = [];
    for (const v of o) members.push(encode(v, depth));
    return `#Set[${members.sort().join(',')}]`;
  }
  if (ArrayBuffer.isView(o)) {
    const bytes = Buffer.from(o.buffer, o.byteOffset, o.byteLength).toString('base64');
    return o instanceof Uint8Array
      ? `#bytes(${bytes})`
      : `#${Object.prototype.toString.call(o).slice(8, -1)}(${bytes})`;
  }
  if (o instanceof ArrayBuffer) return `#ArrayBuffer(${Buffer.from(o).toString('base64')})`;
  if (o instanceof RegExp) return `#RegExp(${JSON.stringify(String(o))})`;
  if (isOpaqueInstance(o)) throw UNSUPPORTED;
  return encodeProps(o, depth);
}

function encodeProps(o: object, depth: number): string {
  const keys = sortKeys(Object.keys(o));
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    out += (i === 0 ? '' : ',') + jsonQuote(k) + ':' + encode((o as Record<string, unknown>)[k], depth);
  }
  return out + '}';
}

/** Insertion sort for the handful of keys an object usually has: measured faster than Array#sort there. */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 32) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i];
    let j = i - 1;
    while (j >= 0 && keys[j] > k) {
      keys[j + 1] = keys[j];
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

/** A class instance with no own enumerable property: its state, if any, is invisible to the encoder. */
function isOpaqueInstance(o: object): boolean {
  const proto = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null || Array.isArray(o)) return false;
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) return false;
  return true;
}

function opaqueKeyReason(o: object): string {
  if (o instanceof Promise) return 'is a Promise (a missing await?)';
  const name = (o.constructor as { name?: unknown } | undefined)?.name;
  return (
    `is ${typeof name === 'string' && name ? `a ${name}` : 'an object'} with no own enumerable properties, ` +
    'so every instance would get the same key; pass a primitive or plain object instead'
  );
}

function keyError(value: unknown, root: string, cause?: unknown): CacheKeyError {
  let found: UnsupportedAt | undefined;
  try {
    found = locateUnsupported(value, root, 'key');
  } catch {
    found = undefined; // nested too deeply to walk: fall through to the generic message
  }
  if (found) return new CacheKeyError(found.path, found.reason);
  if (cause === UNSUPPORTED) return new CacheKeyError(root, `is nested more than ${MAX_DEPTH} levels deep`);
  if (cause instanceof RangeError) return new CacheKeyError(root, 'is nested too deeply');
  return new CacheKeyError(root, cause instanceof Error ? cause.message : String(cause));
}
