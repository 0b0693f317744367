import Redis from 'ioredis';
import { Cache } from '../../src';
import { RedisStore } from '../../src/redis';
import { deletePrefix, REDIS_URL, requireRedis, uniquePrefix } from '../support/services';

/*
 * String values are stored as their UTF-8 bytes (codec `$s`), not through the serializer:
 * TypeORM's query cache hands the cache one JSON string per result, which JSON would escape on
 * every write and unescape on every read.
 */
describe('string values in L2', () => {
  let client: Redis;
  let admin: Redis;
  const prefix = uniquePrefix('raw-strings');

  beforeAll(async () => {
    await requireRedis();
    client = new Redis(REDIS_URL);
    admin = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await deletePrefix(admin, prefix);
    await client.quit();
    await admin.quit();
  });

  const samples: [string, string][] = [
    ['JSON text', '[{"id":1,"name":"Lamp \\"deluxe\\"","at":"2024-01-01T00:00:00.000Z"}]'],
    ['unicode and control characters', 'naïve café 🚀 \n\t\u0000 end'],
    ['the empty string', ''],
    ['text that looks like an entry header', 'ck2\x1f1\x1f0\x1fjson\x1f\x1f\x1f\nnot a header'],
  ];

  test.each(samples)('%s: stored as its own bytes, and read back exactly', async (_, text) => {
    for (const serializer of ['json', 'msgpack'] as const) {
      const cache = new Cache({
        prefix: `${prefix}-${serializer}`,
        l1: false,
        l2: new RedisStore({ client }),
      });
      await cache.set('s', text);
      const raw = (await admin.getBuffer(`${prefix}-${serializer}:_:s`))!;
      const header = raw.subarray(0, raw.indexOf(10)).toString('latin1').split('\x1f');
      expect(header[3]).toBe('$s');
      expect(raw.subarray(raw.indexOf(10) + 1).toString('utf8')).toBe(text);
      expect(await cache.get('s')).toBe(text);
      await cache.close();
    }
  });

  test('a string with a lone surrogate (no UTF-8 form) goes through the serializer and comes back exactly', async () => {
    const cache = new Cache({ prefix, l1: false, l2: new RedisStore({ client }) });
    const text = 'half a pair: \ud83d!';
    await cache.set('lone', text);
    const raw = (await admin.getBuffer(`${prefix}:_:lone`))!;
    expect(raw.subarray(0, raw.indexOf(10)).toString('latin1').split('\x1f')[3]).toBe('json');
    expect(await cache.get('lone')).toBe(text);
    await cache.close();
  });

  test('an L1 instance fills from a raw-string entry another instance wrote', async () => {
    const writer = new Cache({ prefix: `${prefix}-fill`, l1: false, l2: new RedisStore({ client }) });
    const reader = new Cache({ prefix: `${prefix}-fill`, l2: new RedisStore({ client }) });
    await writer.set('s', '{"a":"b"}', { tags: ['t'] });
    expect(await reader.getEntry('s')).toEqual({ value: '{"a":"b"}', layer: 'l2' });
    expect(await reader.getEntry('s')).toEqual({ value: '{"a":"b"}', layer: 'l1' });
    await writer.invalidateTags(['t']);
    expect(await writer.get('s')).toBeUndefined();
    await writer.close();
    await reader.close();
  });
});
