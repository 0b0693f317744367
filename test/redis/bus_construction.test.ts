import Redis from 'ioredis';
import { Cache, CacheConfigError } from '../../src';
import { RedisStore } from '../../src/redis';
import { sleep, startPrivateRedis, type PrivateRedis } from '../support/services';

/*
 * A cache whose options are refused must not leave its bus subscriber behind: on Cluster that
 * connection (no socket to unref) kept the process alive after the test suite ended.
 */
describe('a cache that fails to construct', () => {
  let redis: PrivateRedis;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    await admin.quit();
    await redis.stop();
  });

  const subscribers = async () =>
    String(await admin.client('LIST'))
      .split('\n')
      .filter((l: string) => / sub=[1-9]/.test(l)).length;

  test('opens no bus subscription; a valid one does', async () => {
    const client = new Redis(redis.url);
    const store = new RedisStore({ client });
    expect(() => new Cache({ l2: store, policies: { bad: { ttl: 'soon' } } })).toThrow(CacheConfigError);
    expect(() => new Cache({ l2: store, warming: { concurrency: -1 } } as never)).toThrow(CacheConfigError);
    await sleep(200);
    expect(await subscribers()).toBe(0);

    const ok = new Cache({ l2: store });
    let n = 0;
    for (let i = 0; i < 50 && n === 0; i++) {
      await sleep(20);
      n = await subscribers();
    }
    expect(n).toBe(1);
    await ok.close();
    client.disconnect();
  });
});
