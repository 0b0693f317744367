import { createKeyv } from '@keyv/redis';
import { Cache } from '../../src';
import { KeyvStore } from '../../src/keyv';
import { REDIS_URL, requireRedis, sleep, uniquePrefix } from '../support/services';

describe('KeyvStore', () => {
  beforeAll(() => requireRedis());

  test('within the clock-skew window after an invalidation, loads are not reused; after it they are', async () => {
    const keyv = createKeyv(REDIS_URL);
    const cache = new Cache({
      prefix: uniquePrefix('keyv-skew'),
      l1: false,
      l2: new KeyvStore(keyv, { clockSkew: 400 }),
      tagVersionTtl: '1h',
    });
    try {
      let reads = 0;
      await cache.invalidateTags(['t']);
      await cache.getOrLoad('k', () => ++reads, { tags: ['t'] });
      await cache.getOrLoad('k', () => ++reads, { tags: ['t'] });
      expect(reads).toBe(2); // both loads began within 400 ms of the invalidation
      await sleep(500);
      await cache.getOrLoad('k', () => ++reads, { tags: ['t'] });
      await cache.getOrLoad('k', () => ++reads, { tags: ['t'] });
      expect(reads).toBe(3);
    } finally {
      await cache.delete('k');
      await cache.close();
    }
  });

  test('a clockSkew that is not a duration is a CacheConfigError', () => {
    const keyv = createKeyv(REDIS_URL);
    expect(() => new KeyvStore(keyv, { clockSkew: 'sometimes' })).toThrow(/clockSkew/);
    void keyv.disconnect();
  });
});
