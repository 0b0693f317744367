import { CacheConfigError, MemoryWriteQueue, backoffDelay } from '../../src';
import { RedisStreamQueue } from '../../src/redis';
import { resolveWriteBehindOptions } from '../../src/write_behind/write_behind_options';

describe('write-behind options', () => {
  test('defaults: 2,000 rows or 100 ms per batch, 10 attempts, backoff 100 ms doubling to 30 s', () => {
    expect(resolveWriteBehindOptions()).toEqual({
      batchSize: 2000,
      maxDelayMs: 100,
      maxAttempts: 10,
      retryDelayMs: 100,
      maxRetryDelayMs: 30_000,
      closeTimeoutMs: 30_000,
      shutdownHook: false,
      flusher: true,
    });
    expect(resolveWriteBehindOptions({ maxDelay: '2s', queue: new MemoryWriteQueue() }).maxDelayMs).toBe(
      2000,
    );
  });

  test.each([
    [{ batchSize: 0 }, 'batchSize'],
    [{ batchSize: 1.5 }, 'batchSize'],
    [{ maxAttempts: -1 }, 'maxAttempts'],
    [{ maxDelay: 'soon' }, 'maxDelay'],
    [{ retryDelay: '1s', maxRetryDelay: '10ms' }, 'maxRetryDelay'],
    [{ shutdownHook: 'yes' }, 'shutdownHook'],
    [{ queue: {} }, 'queue'],
    [{ flusher: 'no' }, 'flusher'],
    // The memory queue (the default, or given) has no other flusher: nothing would persist.
    [{ flusher: false }, 'flusher'],
    [{ flusher: false, queue: new MemoryWriteQueue() }, 'flusher'],
  ])('%j is a CacheConfigError naming %s', (o, option) => {
    const err = (() => {
      try {
        resolveWriteBehindOptions(o as never);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CacheConfigError);
    expect((err as CacheConfigError).option).toBe(option);
  });

  test('RedisStreamQueue checks its options before connecting', () => {
    expect(() => new RedisStreamQueue({ name: '' })).toThrow(CacheConfigError);
    expect(() => new RedisStreamQueue({ name: 'a{b}' })).toThrow(/name/);
    expect(() => new RedisStreamQueue({ name: 'ok', claimIdle: 'never' })).toThrow(/claimIdle/);
    expect(() => new RedisStreamQueue({ name: 'ok', replicas: -1 })).toThrow(/replicas/);
  });

  test('backoff: exponential, capped, with jitter between a tenth and the whole delay', () => {
    expect(backoffDelay(1, 100, 30_000, () => 1)).toBe(100);
    expect(backoffDelay(4, 100, 30_000, () => 1)).toBe(800);
    expect(backoffDelay(20, 100, 30_000, () => 1)).toBe(30_000);
    expect(backoffDelay(4, 100, 30_000, () => 0)).toBe(80);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(5, 100, 30_000)));
    expect(spread.size).toBeGreaterThan(10);
    for (const d of spread) expect(d >= 160 && d <= 1600).toBe(true);
  });
});
