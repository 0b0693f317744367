import Redis from 'ioredis';
import { RedisStreamQueue } from '../../src/redis';
import { requestSize, TickBatcher } from '../../src/redis/tick_batcher';
import { deletePrefix, REDIS_URL, requireRedis, uniquePrefix } from '../support/services';

/*
 * The calls of one tick go out in a few requests, not one, so that Redis runs the first while
 * node still encodes the rest (see tick_batcher.ts); small ticks stay one request.
 */
describe('TickBatcher', () => {
  test('request sizes: one request up to 8 calls, then about four, none above the cap', () => {
    expect(requestSize(1, 256)).toBe(8);
    expect(requestSize(8, 256)).toBe(8);
    expect(requestSize(16, 256)).toBe(8);
    expect(requestSize(40, 256)).toBe(10);
    expect(requestSize(1000, 256)).toBe(250);
    expect(requestSize(2000, 256)).toBe(256);
  });

  test("a tick's calls are sent in order, split, and each caller gets its own answer", async () => {
    const sent: number[][] = [];
    const b = new TickBatcher<number, string>(async (items) => {
      sent.push(items);
      return items.map((i) => `r${i}`);
    }, 256);
    const out = await Promise.all(Array.from({ length: 16 }, (_, i) => b.add(i)));
    expect(out).toEqual(Array.from({ length: 16 }, (_, i) => `r${i}`));
    expect(sent).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7],
      [8, 9, 10, 11, 12, 13, 14, 15],
    ]);
    // A lone call, a tick later, is a request of its own.
    expect(await b.add(99)).toBe('r99');
    expect(sent[2]).toEqual([99]);
  });

  test('a failed request rejects its own callers only', async () => {
    const b = new TickBatcher<number, number>(async (items) => {
      if (items.includes(3)) throw new Error('refused');
      return items;
    }, 256);
    const out = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => b.add(i)));
    expect(out.slice(0, 8).every((r) => r.status === 'rejected')).toBe(true);
    expect(out.slice(8).map((r) => (r.status === 'fulfilled' ? r.value : r.reason))).toEqual([
      8, 9, 10, 11, 12, 13, 14, 15,
    ]);
  });

  describe('in RedisStreamQueue', () => {
    let admin: Redis;
    const name = uniquePrefix('wbtick');
    beforeAll(async () => {
      await requireRedis();
      admin = new Redis(REDIS_URL);
    });
    afterAll(async () => {
      await deletePrefix(admin, `cachekit:wb:{${name}}`);
      await admin.quit();
    });

    test('16 appends of one tick are two script calls, and all 16 are stored in order', async () => {
      const client = new Redis(REDIS_URL);
      const q = new RedisStreamQueue({ client, name });
      try {
        await q.head(); // connects first, so that only the appends are counted
        const scripts: string[] = [];
        const send = client.sendCommand.bind(client);
        client.sendCommand = ((cmd: { name: string }) => {
          scripts.push(cmd.name);
          return send(cmd as never);
        }) as typeof client.sendCommand;
        const versions = await Promise.all(
          Array.from({ length: 16 }, (_, i) =>
            q.append({ entity: 'Row', key: `k${i}`, op: 'save', payload: String(i) }),
          ),
        );
        expect(scripts.filter((n) => n === 'evalsha' || n === 'eval')).toHaveLength(2);
        expect(versions).toEqual([...versions].sort((x, y) => x - y));
        expect(new Set(versions).size).toBe(16);
        const recs = await q.latest(Array.from({ length: 16 }, (_, i) => `k${i}`));
        expect(recs.map((r) => (r && !r.flushed ? r.payload : undefined))).toEqual(
          Array.from({ length: 16 }, (_, i) => String(i)),
        );
      } finally {
        await q.close();
        client.disconnect();
      }
    });
  });
});
