import Redis from 'ioredis';
import { Cache } from '../../src';
import { RedisStore } from '../../src/redis';
import { TickPipeline } from '../../src/redis/tick_pipeline';
import { countCommands } from '../support/probes';
import { deletePrefix, REDIS_URL, requireRedis, uniquePrefix } from '../support/services';

describe('TickPipeline: the writes of one tick in one pipeline', () => {
  let client: Redis;
  let admin: Redis;
  const prefix = uniquePrefix('tick-pipeline');

  beforeAll(async () => {
    await requireRedis();
    client = new Redis(REDIS_URL);
    admin = new Redis(REDIS_URL);
    await client.ping();
  });
  afterAll(async () => {
    await deletePrefix(admin, prefix);
    await client.quit();
    await admin.quit();
  });

  test('concurrent cache writes share one version read and leave in one socket write, and every one lands', async () => {
    const cache = new Cache({ prefix, l1: false, l2: new RedisStore({ client }) });
    const seen = countCommands(client);
    await Promise.all(Array.from({ length: 20 }, (_, i) => cache.set(`k${i}`, { i })));
    // The 20 captures of the version share one read; then the 20 SETs leave as one pipeline.
    expect(seen.writes).toBe(2);
    for (let i = 0; i < 20; i++) expect(await cache.get(`k${i}`)).toEqual({ i });
    await cache.close();
  });

  test('a lone write is sent as it is', async () => {
    const pipe = new TickPipeline(client);
    const seen = countCommands(client);
    await pipe.set(`${prefix}:lone`, Buffer.from('x'), 60_000);
    expect(seen.writes).toBe(1);
    expect(await admin.get(`${prefix}:lone`)).toBe('x');
  });

  test('a command Redis refuses rejects its own caller only', async () => {
    const pipe = new TickPipeline(client);
    const results = await Promise.allSettled([
      pipe.set(`${prefix}:a`, Buffer.from('a'), 60_000),
      pipe.set(`${prefix}:bad`, Buffer.from('b'), -5), // PX must be positive
      pipe.publish(`${prefix}:channel`, 'hello'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/expire/i);
    expect(await admin.get(`${prefix}:a`)).toBe('a');
    expect(await admin.exists(`${prefix}:bad`)).toBe(0);
  });

  test('a pipeline on a connection that fails rejects every caller', async () => {
    const doomed = new Redis(REDIS_URL, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    await doomed.ping();
    const pipe = new TickPipeline(doomed);
    doomed.disconnect();
    const results = await Promise.allSettled([
      pipe.set(`${prefix}:x`, Buffer.from('x'), 60_000),
      pipe.set(`${prefix}:y`, Buffer.from('y'), 60_000),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
