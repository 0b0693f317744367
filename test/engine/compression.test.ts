import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { compress, decompress, type CompressionAlgorithm } from '../../src/engine/compression';

const text = Buffer.from(
  JSON.stringify(
    Array.from({ length: 40 }, (_, i) => ({
      id: i,
      name: `Product ${i}`,
      tags: ['home', 'garden'],
      price: 9.99 + i,
    })),
  ),
);

describe.each<CompressionAlgorithm>(['gzip', 'brotli'])('%s', (algorithm) => {
  test('compresses a payload at or above the threshold, and decompress restores it', () => {
    const c = compress(text, { algorithm, threshold: text.length });
    expect(c.algorithm).toBe(algorithm);
    expect(c.bytes.length).toBeLessThan(text.length / 3);
    expect(decompress(c.bytes, c.algorithm).equals(text)).toBe(true);
  });

  test('leaves a payload under the threshold alone', () => {
    const c = compress(text, { algorithm, threshold: text.length + 1 });
    expect(c.algorithm).toBeUndefined();
    expect(c.bytes).toBe(text);
  });

  test('leaves incompressible bytes alone rather than making them bigger', () => {
    const noise = randomBytes(4096);
    const c = compress(noise, { algorithm, threshold: 0 });
    expect(c.algorithm).toBeUndefined();
    expect(c.bytes).toBe(noise);
  });

  test('leaves a tiny payload alone at threshold 0: the framing would outweigh the gain', () => {
    const tiny = Buffer.from('ab');
    expect(compress(tiny, { algorithm, threshold: 0 })).toEqual({ bytes: tiny, algorithm: undefined });
  });

  test('corrupt compressed bytes throw instead of returning garbage', () => {
    const c = compress(text, { algorithm, threshold: 0 });
    const broken = Buffer.from(c.bytes);
    broken.fill(0xff, 4, 24);
    expect(() => decompress(broken, algorithm)).toThrow();
  });
});

test('gzip output is standard gzip', () => {
  const c = compress(text, { algorithm: 'gzip', threshold: 0 });
  expect(gunzipSync(c.bytes).equals(text)).toBe(true);
});

test('brotli (quality 4) beats gzip on JSON', () => {
  const g = compress(text, { algorithm: 'gzip', threshold: 0 });
  const b = compress(text, { algorithm: 'brotli', threshold: 0 });
  expect(b.bytes.length).toBeLessThan(g.bytes.length);
});

test('no options: nothing is compressed', () => {
  expect(compress(text, undefined)).toEqual({ bytes: text, algorithm: undefined });
});

test('decompress with no algorithm returns the bytes as they are', () => {
  expect(decompress(text, undefined)).toBe(text);
});

test('an unknown algorithm is an error, not a silent pass-through', () => {
  expect(() => compress(text, { algorithm: 'zstd' as CompressionAlgorithm, threshold: 0 })).toThrow(/zstd/);
  expect(() => decompress(text, 'lz4' as CompressionAlgorithm)).toThrow(/lz4/);
});

describe('decompression limit', () => {
  test('a payload that expands past the limit is refused instead of inflated', () => {
    const bomb = compress(Buffer.alloc(5_000_000), { algorithm: 'gzip', threshold: 0 });
    expect(bomb.bytes.length).toBeLessThan(10_000);
    expect(() => decompress(bomb.bytes, 'gzip', 1024 * 1024)).toThrow();
    const br = compress(Buffer.alloc(5_000_000), { algorithm: 'brotli', threshold: 0 });
    expect(() => decompress(br.bytes, 'brotli', 1024 * 1024)).toThrow();
    expect(decompress(bomb.bytes, 'gzip', 6_000_000).length).toBe(5_000_000);
  });
});
