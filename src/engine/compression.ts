import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from 'node:zlib';

/** Compression applied to L2 payloads. */
export type CompressionAlgorithm = 'gzip' | 'brotli';

/** How and from what size to compress L2 payloads. */
export interface CompressionOptions {
  algorithm: CompressionAlgorithm;
  /** Payloads shorter than this many bytes are stored as they are. */
  threshold: number;
}

/*
 * Brotli quality 4, not the default 11: measured on a 10.9 kB JSON list of 40 product rows,
 * quality 11 compresses at about 1 MB/s (a 1 MiB entry would block the event loop for a
 * second), quality 4 at about 200 MB/s and still ends 25% smaller than gzip's default level
 * (951 vs 1,247 bytes, gzip 6 at about 275 MB/s). Qualities 5-6 gained 10% more for 20% less speed.
 * The size hint lets brotli pick a window that fits the payload rather than the maximum.
 */
const BROTLI_QUALITY = 4;

/**
 * Compresses `bytes` when they are at least `opts.threshold` long and the result is smaller;
 * otherwise returns them untouched with `algorithm: undefined`. Synchronous, like the serializers.
 */
export function compress(
  bytes: Buffer,
  opts: CompressionOptions | undefined,
): { bytes: Buffer; algorithm: CompressionAlgorithm | undefined } {
  if (opts === undefined || bytes.length < opts.threshold) return { bytes, algorithm: undefined };
  let out: Buffer;
  switch (opts.algorithm) {
    case 'gzip':
      out = gzipSync(bytes);
      break;
    case 'brotli':
      out = brotliCompressSync(bytes, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
          [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        },
      });
      break;
    default:
      throw new Error(`unknown compression algorithm ${JSON.stringify(opts.algorithm)}`);
  }
  // Small or already-compressed payloads (images, random ids) can grow; storing them as they
  // are also saves the reader a decompression.
  return out.length < bytes.length
    ? { bytes: out, algorithm: opts.algorithm }
    : { bytes, algorithm: undefined };
}

/** Reverses `compress`: `algorithm` is what it reported, `undefined` for bytes it left alone. */
export function decompress(
  bytes: Buffer,
  algorithm: CompressionAlgorithm | undefined,
  maxOutputLength?: number,
): Buffer {
  // The limit stops a small planted payload from expanding into gigabytes (a compression bomb).
  const opts = maxOutputLength === undefined ? undefined : { maxOutputLength };
  switch (algorithm) {
    case undefined:
      return bytes;
    case 'gzip':
      return gunzipSync(bytes, opts);
    case 'brotli':
      return brotliDecompressSync(bytes, opts);
    default:
      throw new Error(`unknown compression algorithm ${JSON.stringify(algorithm)}`);
  }
}
