import type { CompressionAlgorithm } from './compression';
import type { Copier } from './shape_copier';

/**
 * The header stored in front of every L2 entry. It is JSON so that the Redis read script can
 * decode it with cjson and check tag versions server-side in the same round trip.
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
}

const NEWLINE = 0x0a;

/** Joins header and payload into the byte string stored in L2. */
export function encodeEntry(header: EntryHeader, payload: Buffer): Buffer {
  const head = Buffer.from(JSON.stringify(header) + '\n', 'utf8');
  return Buffer.concat([head, payload], head.length + payload.length);
}

/** Splits an L2 byte string into its header and payload; returns undefined for bytes cachekit did not write. */
export function decodeEntry(data: Buffer): { header: EntryHeader; payload: Buffer } | undefined {
  const nl = data.indexOf(NEWLINE);
  if (nl <= 0 || data[0] !== 0x7b /* { */) return undefined;
  let header: EntryHeader;
  try {
    header = JSON.parse(data.toString('utf8', 0, nl));
  } catch {
    return undefined;
  }
  if (typeof header?.s !== 'number' || typeof header.c !== 'string') return undefined;
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
