import Redis from 'ioredis';
import { Cache, Cacheable, warmMethod } from '../../src';
import { RedisHeatStore, RedisStore } from '../../src/redis';
import { deletePrefix, REDIS_URL, requireRedis, uniquePrefix } from '../support/services';

/** Replay and method warmers with standard (TC39) decorators: two caches, separate L1s, one Redis prefix. */
describe('replay warming (tc39 decorators)', () => {
  test('the hot calls of cache A are L1 hits in a cold cache B after replay', async () => {
    await requireRedis();
    const prefix = uniquePrefix('warm-tc39');
    const client = new Redis(REDIS_URL);
    class Users {
      loads = 0;
      constructor(readonly cache: Cache) {}
      @Cacheable({ replay: true })
      async find(id: number) {
        this.loads++;
        return { id };
      }
    }
    const make = () =>
      new Cache({
        prefix,
        l2: new RedisStore({ client }),
        warming: { heatStore: new RedisHeatStore({ client }), replayTop: 2 },
      });
    const a = make();
    const b = make();
    try {
      const ua = new Users(a);
      for (const [id, n] of [
        [1, 5],
        [2, 4],
        [3, 1],
      ])
        for (let i = 0; i < n; i++) await ua.find(id);
      await a.warming.flush();

      const ub = new Users(b);
      b.warming.register(ub);
      const report = await b.warm();
      expect(report.warmers[0]).toEqual(expect.objectContaining({ name: 'replay', done: 2, skipped: 0 }));
      const before = b.stats();
      await ub.find(1);
      await ub.find(2);
      expect(b.stats().l1.hits - before.l1.hits).toBe(2);
      expect(ub.loads).toBe(0);
      // Method warmers find the wrapper under standard decorators too.
      await b.warm([warmMethod(ub, 'find', [[9]])]);
      expect(ub.loads).toBe(1);
    } finally {
      await a.close();
      await b.close();
      await deletePrefix(client, prefix);
      await client.quit();
    }
  });
});
