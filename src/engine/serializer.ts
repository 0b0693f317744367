import { FLOAT32_OPTIONS, Packr } from 'msgpackr';
import { CacheSerializationError } from '../errors';
import { jsonQuote, locateUnsupported } from './keys';

/** Turns cached values into bytes for L2 and back; `name` is stored with every entry, so readers with another serializer treat it as a miss. */
export interface Serializer {
  readonly name: string;
  encode(value: unknown): Buffer;
  decode(bytes: Buffer): unknown;
}

/*
 * Tagged JSON. A value JSON cannot represent is written as an object whose first key is `$t`:
 *
 *   {"$t":"u"}                            undefined (top level, in arrays and as a property value)
 *   {"$t":"N","v":"NaN"}                  NaN, Infinity, -Infinity
 *   {"$t":"n","v":"-12"}                  BigInt, any size
 *   {"$t":"D","v":1700000000000}          Date; "v":null for an invalid Date
 *   {"$t":"M","v":[[k,v],...]}            Map, keys and values tagged recursively
 *   {"$t":"S","v":[...]}                  Set
 *   {"$t":"B","v":"<base64>"}             Buffer
 *   {"$t":"A","c":"Uint8Array","v":"…"}   other typed arrays, DataView and ArrayBuffer: same class back
 *   {"$t":"o","v":[k1,v1,k2,v2,...]}      an object that has its own `$t` key: its entries, in order
 *
 * Because every object with an own `$t` key is escaped with the last tag, an object carrying
 * `$t` in a payload is always a tag. What JSON itself loses is left as JSON loses it: -0 comes
 * back as 0, and a class instance comes back as a plain object holding what JSON.stringify
 * writes for it (its toJSON() result, or its own enumerable properties), so RegExp and Error
 * become {}. A Promise, WeakMap, WeakSet or WeakRef is refused rather than written as {}.
 *
 * Encoding: a quick walk decides whether the value is plain JSON already (plain objects,
 * arrays, strings, finite numbers, booleans, null); if so, native JSON.stringify writes it.
 * Otherwise a hand-written encoder does. It replaced a JSON.stringify replacer, which measured
 * 1.4-1.8x slower on product rows with a Date: a replacer runs for every value, and
 * JSON.stringify calls Date#toJSON (an ISO string, thrown away) before the replacer sees it.
 * Decoding: JSON.parse, then a walk that revives tags in place, only when the text can hold a
 * tag; that walk measured 3-4x faster than a JSON.parse reviver, which also cannot produce
 * an `undefined` property (returning undefined deletes it).
 */
const TAG = '$t';
/** Deeper than this the encoders stop and the value is reported (a cycle, or a pathological value). */
const MAX_DEPTH = 1000;
/** Thrown by the walks below, which do not track paths; `diagnose` then finds what and where. */
const UNSUPPORTED = new Error('unsupported value');

/** The default serializer: JSON, tagged so that Date, BigInt, Map, Set, Buffer, undefined and NaN come back as they went in. */
export const jsonSerializer: Serializer = Object.freeze({
  name: 'json',
  encode(value: unknown): Buffer {
    let text: string;
    try {
      text = isPlainJson(value, 0) ? JSON.stringify(value) : encode(value, 0, '');
    } catch (err) {
      throw diagnose(value, err);
    }
    return Buffer.from(text, 'utf8');
  },
  decode(bytes: Buffer): unknown {
    return decodeJsonText(bytes.toString('utf8'));
  },
});

/** `jsonSerializer.decode` of text already decoded from UTF-8 (the write-behind queue's payloads are strings). */
export function decodeJsonText(text: string): unknown {
  const value: unknown = JSON.parse(text);
  // Most payloads hold no tag and no `__proto__` key: nothing to walk. `\u` could spell
  // either in an escaped key, so it sends the payload down the careful path too. The needle
  // is `$t"`, not `"$t"`: `"` is everywhere in JSON, which made the search 100x slower.
  if (text.indexOf('$t"') === -1 && text.indexOf('__proto__') === -1 && text.indexOf('\\u') === -1)
    return value;
  return typeof value === 'object' && value !== null ? revive(value) : value;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** True when native JSON.stringify writes `v` exactly: no value it would drop, change or call toJSON on. */
function isPlainJson(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return v === v && v !== Infinity && v !== -Infinity;
    case 'object': {
      if (v === null) return true;
      if (++depth > MAX_DEPTH) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!isPlainJson(v[i], depth)) return false;
        return true;
      }
      if (Object.getPrototypeOf(v) !== Object.prototype) return false;
      for (const k in v) {
        if (hasOwn.call(v, k) && (k === TAG || !isPlainJson((v as Record<string, unknown>)[k], depth)))
          return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** The tagged JSON text of `v`; `key` is what a toJSON method is called with, as JSON.stringify does. */
function encode(v: unknown, depth: number, key: string): string {
  switch (typeof v) {
    case 'string':
      return jsonQuote(v);
    case 'number':
      return v === v && v !== Infinity && v !== -Infinity ? String(v) : `{"$t":"N","v":"${v}"}`;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return '{"$t":"u"}';
    case 'bigint':
      return `{"$t":"n","v":"${v}"}`;
    case 'object':
      return v === null ? 'null' : encodeObject(v, depth, key);
    default:
      throw UNSUPPORTED; // functions and symbols, which JSON.stringify would silently drop
  }
}

function encodeObject(o: object, depth: number, key: string): string {
  if (++depth > MAX_DEPTH) throw UNSUPPORTED;
  if (Array.isArray(o)) {
    let out = '[';
    for (let i = 0; i < o.length; i++) out += (i === 0 ? '' : ',') + encode(o[i], depth, String(i));
    return out + ']';
  }
  const proto = Object.getPrototypeOf(o);
  // Plain objects are not asked for toJSON: an own toJSON function is then refused as a function.
  if (proto === Object.prototype || proto === null) return encodeProps(o, depth);
  if (o instanceof Date) {
    const t = o.getTime();
    return `{"$t":"D","v":${t === t ? t : 'null'}}`;
  }
  if (o instanceof Map) {
    let out = '{"$t":"M","v":[';
    let i = 0;
    for (const [k, v] of o)
      out += (i++ === 0 ? '[' : ',[') + encode(k, depth, '') + ',' + encode(v, depth, '') + ']';
    return out + ']}';
  }
  if (o instanceof Set) {
    let out = '{"$t":"S","v":[';
    let i = 0;
    for (const v of o) out += (i++ === 0 ? '' : ',') + encode(v, depth, '');
    return out + ']}';
  }
  if (Buffer.isBuffer(o)) return `{"$t":"B","v":"${o.toString('base64')}"}`;
  if (ArrayBuffer.isView(o)) {
    const bytes = Buffer.from(o.buffer, o.byteOffset, o.byteLength).toString('base64');
    return `{"$t":"A","c":"${classOf(o)}","v":"${bytes}"}`;
  }
  if (o instanceof ArrayBuffer)
    return `{"$t":"A","c":"ArrayBuffer","v":"${Buffer.from(o).toString('base64')}"}`;
  if (o instanceof Promise || o instanceof WeakMap || o instanceof WeakSet || o instanceof WeakRef)
    throw UNSUPPORTED;
  const toJSON = (o as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return encode(toJSON.call(o, key), depth, key);
  return encodeProps(o, depth);
}

function encodeProps(o: object, depth: number): string {
  if (hasOwn.call(o, TAG)) return encodeEscaped(o, depth);
  let out = '{';
  let first = true;
  for (const k in o) {
    if (!hasOwn.call(o, k)) continue;
    out += (first ? '' : ',') + jsonQuote(k) + ':' + encode((o as Record<string, unknown>)[k], depth, k);
    first = false;
  }
  return out + '}';
}

function encodeEscaped(o: object, depth: number): string {
  let out = '{"$t":"o","v":[';
  let first = true;
  for (const k in o) {
    if (!hasOwn.call(o, k)) continue;
    out += (first ? '' : ',') + jsonQuote(k) + ',' + encode((o as Record<string, unknown>)[k], depth, k);
    first = false;
  }
  return out + ']}';
}

/** `Float32Array`, `DataView`…: the built-in class, even for a subclass or another realm's array. */
function classOf(v: object): string {
  return Object.prototype.toString.call(v).slice(8, -1);
}

const VIEWS: Record<string, new (buffer: ArrayBuffer) => ArrayBufferView> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
};

/**
 * Revives tags in a parsed payload, in place, and deletes own `__proto__` keys: JSON.parse
 * makes them plain properties, harmless here but a pollution vector for any caller that later
 * merges the value into another object.
 */
function revive(v: object): unknown {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'object' && x !== null) v[i] = revive(x);
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  if (hasOwn.call(o, TAG)) return reviveTag(o);
  for (const k in o) {
    if (!hasOwn.call(o, k)) continue;
    if (k === '__proto__') {
      delete o[k];
      continue;
    }
    const x = o[k];
    if (typeof x === 'object' && x !== null) o[k] = revive(x);
  }
  return o;
}

function reviveTag(o: Record<string, unknown>): unknown {
  const t = o[TAG];
  const v = o.v;
  switch (t) {
    case 'u':
      return undefined;
    case 'N':
      if (v === 'NaN') return NaN;
      if (v === 'Infinity') return Infinity;
      if (v === '-Infinity') return -Infinity;
      break;
    case 'n':
      if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
      break;
    case 'D':
      if (v === null || typeof v === 'number') return new Date(v ?? NaN);
      break;
    case 'M':
      if (Array.isArray(v)) {
        const m = new Map();
        for (const e of revive(v) as unknown[]) {
          if (!Array.isArray(e) || e.length !== 2) return malformed(t);
          m.set(e[0], e[1]);
        }
        return m;
      }
      break;
    case 'S':
      if (Array.isArray(v)) return new Set(revive(v) as unknown[]);
      break;
    case 'B':
      if (typeof v === 'string') return Buffer.from(v, 'base64');
      break;
    case 'A':
      if (typeof v === 'string') return reviveBytes(o.c, v);
      break;
    case 'o':
      if (Array.isArray(v) && v.length % 2 === 0) {
        revive(v);
        const out: Record<string, unknown> = {};
        for (let i = 0; i < v.length; i += 2) {
          const k = v[i];
          if (typeof k !== 'string') return malformed(t);
          if (k !== '__proto__') out[k] = v[i + 1];
        }
        return out;
      }
      break;
  }
  return malformed(t);
}

function reviveBytes(c: unknown, base64: string): unknown {
  const bytes = Buffer.from(base64, 'base64');
  // A fresh, exactly-sized ArrayBuffer: views over Buffer's pool could be misaligned or expose other data.
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  if (c === 'ArrayBuffer') return ab;
  const View = typeof c === 'string' && hasOwn.call(VIEWS, c) ? VIEWS[c] : undefined;
  const size = View && 'BYTES_PER_ELEMENT' in View ? (View.BYTES_PER_ELEMENT as number) : 1;
  if (!View || bytes.length % size !== 0) return malformed('A');
  return new View(ab);
}

function malformed(t: unknown): never {
  throw new CacheSerializationError(undefined, 'value', `malformed payload: bad "${String(t)}" tag`);
}

/** Turns an encoder failure into a CacheSerializationError naming where in the value the problem is. */
function diagnose(value: unknown, err: unknown): CacheSerializationError {
  let found;
  try {
    found = locateUnsupported(value, 'value', 'value');
  } catch {
    found = undefined; // too deep to walk
  }
  if (found) return new CacheSerializationError(undefined, found.path, found.reason, { cause: err });
  if (err === UNSUPPORTED)
    return new CacheSerializationError(undefined, 'value', `is nested more than ${MAX_DEPTH} levels deep`);
  if (err instanceof RangeError)
    return new CacheSerializationError(undefined, 'value', 'is nested too deeply', { cause: err });
  if (err instanceof CacheSerializationError) return err;
  return new CacheSerializationError(undefined, 'value', err instanceof Error ? err.message : String(err), {
    cause: err,
  });
}

/** Options of `msgpackSerializer`. */
export interface MsgpackSerializerOptions {
  /**
   * Store a fractional number as a 32-bit float when its decimal digits survive the trip
   * (msgpackr's DECIMAL_FIT): smaller entries for prices and ratios, no precision lost. Changes
   * the serializer's name to `msgpack-f32`, since a reader without it would decode 7.99 as 7.989999771118164.
   */
  float32?: boolean;
}

/**
 * MessagePack via msgpackr: smaller and faster than JSON on large values; round-trips the same
 * types as `jsonSerializer` (plus RegExp and Error; -0 comes back as 0 in both). Unlike
 * `jsonSerializer` it writes a Promise or WeakMap as {} instead of refusing it: msgpackr has no
 * hook for that, and a walk of every value to look for one would cost more than the encode.
 */
export function msgpackSerializer(options: MsgpackSerializerOptions = {}): Serializer {
  const packr = new Packr({
    // Records (the default) keep plain objects apart from Maps; each payload carries its own
    // record definitions, so any process can read it.
    useRecords: true,
    mapsAsObjects: false,
    moreTypes: true, // Map, Set, typed arrays, RegExp, Error
    useBigIntExtension: true, // BigInts beyond 64 bits, instead of a RangeError
    // Disabled explicitly (undefined is not enough): its decode side rebuilds objects with
    // Object.assign from payload data, and a cache value never needs shared references.
    structuredClone: false,
    copyBuffers: true, // decoded Buffers must not pin or alias the L2 reply they came from
    writeFunction: () => {
      // msgpackr writes a function as undefined unless told otherwise; the path is found afterwards.
      throw new CacheSerializationError(undefined, 'value', 'is a function');
    },
    ...(options.float32 ? { useFloat32: FLOAT32_OPTIONS.DECIMAL_FIT } : {}),
  });
  return Object.freeze({
    name: options.float32 ? 'msgpack-f32' : 'msgpack',
    encode(value: unknown): Buffer {
      try {
        return packr.pack(value);
      } catch (err) {
        // Symbols ("Unknown type") and cycles (stack overflow) end up here too.
        throw diagnose(value, err);
      }
    },
    decode(bytes: Buffer): unknown {
      // msgpackr renames a `__proto__` key to `__proto_` when it builds an object, and with
      // mapsAsObjects off a plain MessagePack map becomes a Map: neither can reach a prototype.
      return packr.unpack(bytes);
    },
  });
}
