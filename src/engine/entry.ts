import type { CompressionAlgorithm } from './compression';
import type { Copier } from './shape_copier';
import { decodeFreshness, encodeFreshness, type EntryFreshness } from './freshness';

/**
 * The header stored in front of every L2 entry, as one line of fields separated by US (0x1f):
 * `ck2 US seq US sliding US serializer US compression US freshness (US tag)* LF payload`.
 * A plain line rather than JSON so that the Redis read script can split it with string.find:
 * decoding JSON with cjson was most of the script's cost on a hit.
 */
export interface EntryHeader {
  /** The invalidation sequence captured before the loader ran. */
  s: number;
  /** Full keys of the tag versions this entry depends on. */
  t?: string[];
  /** Sliding TTL in ms: every valid read resets the entry's expiry to this. */
  sl?: number;
  /** Serializer name, so that a reader configured differently treats the entry as a miss, not garbage. */
  c: string;
  /** Compression applied to the payload. */
  z?: 'g' | 'b';
  /** Id of the key the payload is encrypted with (AES-256-GCM), when it is. */
  k?: string;
  /** Grace, refresh-ahead, XFetch and adaptive-TTL data, when any of them is on. */
  f?: EntryFreshness;
}

/** Separates header fields; refused in tag names, prefixes and serializer names. */
export const FIELD_SEPARATOR = '\x1f';
// ck1 entries (no freshness field) read as foreign bytes, i.e. misses, and are overwritten.
const MAGIC = 'ck2';

/** Whether a string can stand in a header field (no field separator, no line break). */
export function isHeaderSafe(s: string): boolean {
  // Headers travel as UTF-8, where every lone surrogate turns into the same U+FFFD: tags that
  // differ only there would share one version.
  return (
    s.indexOf(FIELD_SEPARATOR) === -1 &&
    s.indexOf('\n') === -1 &&
    s.indexOf('\r') === -1 &&
    (s as unknown as { isWellFormed(): boolean }).isWellFormed()
  );
}

/** What L1 holds for a key. Kept flat and small: it is read on every hit. */
export interface L1Entry {
  /** The value (a private copy, unless the cache is in shared mode). */
  value: unknown;
  /** Copies `value` for a caller: compiled for its shape, or the identity in shared mode. */
  copy: Copier;
  /** Invalidation sequence captured before the value was loaded. */
  seq: number;
  /** Full tag-version keys; undefined when the entry has none. */
  tags: readonly string[] | undefined;
  /** Absolute expiry, epoch ms. */
  expiresAt: number;
  /** Sliding TTL in ms, or 0. */
  sliding: number;
  /** Last time a sliding entry's L2 copy was touched, to throttle touches. */
  touchedAt: number;
  /**
   * Grace / refresh-ahead / XFetch / adaptive data; undefined when none is on. With grace,
   * `expiresAt` is the end of the grace period and `fresh.freshUntil` the end of the TTL.
   */
  fresh: EntryFreshness | undefined;
}

const NEWLINE = 0x0a;

/** Joins header and payload into the byte string stored in L2. */
export function encodeEntry(header: EntryHeader, payload: Buffer): Buffer {
  let line = `${MAGIC}\x1f${header.s}\x1f${header.sl ?? 0}\x1f${header.c}\x1f${header.z ?? ''}${header.k !== undefined ? '@' + header.k : ''}\x1f${encodeFreshness(header.f)}`;
  const tags = header.t;
  if (tags !== undefined) for (let i = 0; i < tags.length; i++) line += '\x1f' + tags[i];
  const head = Buffer.from(line + '\n', 'utf8');
  return Buffer.concat([head, payload], head.length + payload.length);
}

/** An L2 byte string split into its header and payload. */
export interface DecodedEntry {
  readonly header: EntryHeader;
  readonly payload: Buffer;
}

/** Splits an L2 byte string into its header and payload; returns undefined for bytes cachekit did not write. */
export function decodeEntry(data: Buffer): DecodedEntry | undefined {
  const nl = data.indexOf(NEWLINE);
  if (nl <= 0) return undefined;
  const f = data.toString('utf8', 0, nl).split(FIELD_SEPARATOR);
  if (f.length < 6 || f[0] !== MAGIC) return undefined;
  const s = Number(f[1]);
  const sl = Number(f[2]);
  if (!Number.isFinite(s) || !Number.isFinite(sl)) return undefined;
  const header: EntryHeader = { s, c: f[3] };
  if (sl > 0) header.sl = sl;
  // The compression field also names the encryption key: `g`, `@k1`, `g@k1`.
  const z = f[4];
  const at = z.indexOf('@');
  const zc = at === -1 ? z : z.slice(0, at);
  if (zc === 'g' || zc === 'b') header.z = zc;
  if (at !== -1) header.k = z.slice(at + 1);
  if (f[5] !== '') {
    const fr = decodeFreshness(f[5]);
    if (fr !== undefined) header.f = fr;
  }
  if (f.length > 6) header.t = f.slice(6);
  return { header, payload: data.subarray(nl + 1) };
}

/** Maps a compression algorithm to its one-letter header flag. */
export function compressionFlag(algorithm: CompressionAlgorithm | undefined): EntryHeader['z'] {
  return algorithm === 'gzip' ? 'g' : algorithm === 'brotli' ? 'b' : undefined;
}

/** Maps a header flag back to the compression algorithm. */
export function compressionOf(flag: EntryHeader['z']): CompressionAlgorithm | undefined {
  return flag === 'g' ? 'gzip' : flag === 'b' ? 'brotli' : undefined;
}
