import { createHash, randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { FramedScript, respFrame } from '../../src/redis/framed_script';
import { deletePrefix, REDIS_URL, requireRedis, uniquePrefix } from '../support/services';

/*
 * The pre-encoded script call of the write-behind append (src/redis/framed_script.ts): the
 * frame is byte for byte the RESP a client must send, and a call reaches a server that has
 * never seen the script, applies the client's key prefix and returns the reply.
 */

describe('respFrame', () => {
  test('encodes strings (by UTF-8 length), numbers and binary buffers as RESP bulk strings', () => {
    const bin = Buffer.from([0, 13, 10, 255]);
    const frame = respFrame(['SET', 'clé', bin, 42, '', Buffer.alloc(0), 'end']);
    const expected = Buffer.concat([
      Buffer.from('*7\r\n$3\r\nSET\r\n$4\r\nclé\r\n$4\r\n'),
      bin,
      Buffer.from('\r\n$2\r\n42\r\n$0\r\n\r\n$0\r\n\r\n$3\r\nend\r\n'),
    ]);
    expect(frame.equals(expected)).toBe(true);
  });

  test('a buffer last, and a frame of buffers only', () => {
    expect(respFrame([Buffer.from('a'), Buffer.from('bc')]).toString()).toBe('*2\r\n$1\r\na\r\n$2\r\nbc\r\n');
  });
});

describe('FramedScript on Redis', () => {
  const prefix = uniquePrefix('framed');
  let client: Redis;
  let prefixed: Redis;

  beforeAll(async () => {
    await requireRedis();
    client = new Redis(REDIS_URL);
    prefixed = new Redis(REDIS_URL, { keyPrefix: `${prefix}p:` });
  });
  afterAll(async () => {
    await deletePrefix(client, prefix);
    await client.quit();
    await prefixed.quit();
  });

  test('a script the server has never seen runs (EVAL after NOSCRIPT), and is cached afterwards', async () => {
    // A comment nobody else has written: the server cannot hold this script yet.
    const lua = `-- ${randomBytes(8).toString('hex')}\nredis.call('SET', KEYS[1], ARGV[1]) return {ARGV[2], #ARGV[3]}`;
    const script = new FramedScript(lua);
    const sha = (await client.script('EXISTS', hashOf(lua))) as number[];
    expect(sha).toEqual([0]);
    const bin = Buffer.from([1, 2, 3, 0, 255]);
    expect(await script.call(client, 1, [`${prefix}k`, 'värde', 7, bin])).toEqual(['7', 5]);
    expect(await client.get(`${prefix}k`)).toBe('värde');
    expect(await client.script('EXISTS', hashOf(lua))).toEqual([1]);
    // Second call: EVALSHA.
    expect(await script.call(client, 1, [`${prefix}k`, 'again', 'x', ''])).toEqual(['x', 0]);
    expect(await client.get(`${prefix}k`)).toBe('again');
  });

  test("the client's keyPrefix goes on the keys, not on the other arguments", async () => {
    const script = new FramedScript("redis.call('SET', KEYS[1], ARGV[1]) return KEYS[1]");
    expect(await script.call(prefixed, 1, ['k2', 'v'])).toBe(`${prefix}p:k2`);
    expect(await client.get(`${prefix}p:k2`)).toBe('v');
  });

  test('a script error rejects the call with the server message', async () => {
    const script = new FramedScript("return redis.error_reply('nope')");
    await expect(script.call(client, 0, [])).rejects.toThrow('nope');
  });
});

function hashOf(lua: string): string {
  return createHash('sha1').update(lua).digest('hex');
}
