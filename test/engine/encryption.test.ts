import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { Cache, CacheConfigError, Cacheable, type CacheEventMap, encryptionFromEnv } from '../../src';
import { RedisStore } from '../../src/redis';
import { deletePrefix, REDIS_URL, requireRedis, uniquePrefix } from '../support/services';

// Test keys are made here at random: real keys come from config or the environment.
const k1 = randomBytes(32).toString('base64');
const k2 = randomBytes(32).toString('hex');

describe('encryption per policy (AES-256-GCM) on Redis', () => {
  const prefix = uniquePrefix('encrypt');
  const admin = new Redis(REDIS_URL);
  const caches: Cache[] = [];
  const make = (keys: Record<string, string>, current: string) => {
    const c = new Cache({
      prefix,
      l1: false,
      // A fresh connection under a loaded test run can take longer than the default 100 ms.
      l2: { store: new RedisStore({ url: REDIS_URL }), timeout: '2s', writeTimeout: '2s' },
      encryption: { keys, current },
      policies: { secret: { encrypt: true, ttl: '1h' } },
    });
    caches.push(c);
    return c;
  };
  beforeAll(() => requireRedis());
  afterAll(async () => {
    for (const c of caches) await c.close();
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  test('round trip, and the stored bytes hold no plaintext', async () => {
    const c = make({ k1 }, 'k1');
    const value = { ssn: '078-05-1120', at: new Date(5) };
    await c.set('person', value, { policy: 'secret' });
    expect(await c.get('person')).toEqual(value);
    const raw = (await admin.getBuffer(`${prefix}:_:person`))!;
    expect(raw.includes(Buffer.from('078-05-1120'))).toBe(false);
    expect(raw.toString('latin1', 0, 40)).toContain('@k1');
    // A plain policy stays plain.
    await c.set('public', { name: 'visible' });
    expect((await admin.getBuffer(`${prefix}:_:public`))!.includes(Buffer.from('visible'))).toBe(true);
  });

  test('rotation: new writes use the current key, entries under the old one still decrypt', async () => {
    const old = make({ k1 }, 'k1');
    await old.set('rotated', 'before', { policy: 'secret' });
    const rotated = make({ k1, k2 }, 'k2');
    expect(await rotated.get('rotated')).toBe('before');
    await rotated.set('fresh', 'after', { policy: 'secret' });
    expect((await admin.getBuffer(`${prefix}:_:fresh`))!.toString('latin1', 0, 40)).toContain('@k2');
    // A process without k2 reads the new entry as a miss, counted, never a throw.
    const errors: CacheEventMap['error'][] = [];
    old.on('error', (e) => errors.push(e));
    expect(await old.getOrLoad('fresh', () => 'reloaded', { policy: 'secret' })).toBe('reloaded');
    expect(old.stats().decryptErrors).toBe(1);
    expect(errors[0].operation).toBe('decrypt');
  });

  test('a tampered entry is a miss, counted, never a throw', async () => {
    const c = make({ k1 }, 'k1');
    await c.set('tamper', 'original', { policy: 'secret' });
    const key = `${prefix}:_:tamper`;
    const raw = (await admin.getBuffer(key))!;
    raw[raw.length - 1] ^= 0xff;
    await admin.set(key, raw, 'PX', 60_000);
    expect(await c.getOrLoad('tamper', () => 'reloaded', { policy: 'secret' })).toBe('reloaded');
    expect(c.stats().decryptErrors).toBe(1);
  });

  test('@Cacheable({ encrypt: true }) stores its result encrypted', async () => {
    const cache = make({ k1 }, 'k1');
    class Vault {
      cache = cache;
      @Cacheable({ key: () => 'vault', encrypt: true })
      async read() {
        return 'top secret';
      }
    }
    expect(await new Vault().read()).toBe('top secret');
    expect((await admin.getBuffer(`${prefix}:_:vault`))!.includes(Buffer.from('top secret'))).toBe(false);
    expect(await new Vault().read()).toBe('top secret');
  });

  test('bad settings are typed errors: encrypt without keys, a short key, an unknown current id', async () => {
    const opt = (e: () => unknown) => {
      try {
        e();
      } catch (err) {
        return (err as CacheConfigError).option;
      }
      return undefined;
    };
    expect(opt(() => new Cache({ policies: { s: { encrypt: true } } }))).toBe('policies.s.encrypt');
    expect(opt(() => new Cache({ encryption: { keys: { a: 'short' }, current: 'a' } }))).toBe(
      'encryption.keys.a',
    );
    expect(opt(() => new Cache({ encryption: { keys: { a: k1 }, current: 'b' } }))).toBe(
      'encryption.current',
    );
    await expect(new Cache().getOrLoad('x', () => 1, { encrypt: true })).rejects.toMatchObject({
      option: 'encrypt',
    });
  });

  test('keys from the environment', () => {
    expect(encryptionFromEnv({ CACHEKIT_ENCRYPTION_KEYS: `k2:${k2},k1:${k1}` })).toEqual({
      keys: { k2, k1 },
      current: 'k2',
    });
    expect(encryptionFromEnv({})).toBeUndefined();
    expect(
      () => new Cache({ encryption: encryptionFromEnv({ CACHEKIT_ENCRYPTION_KEYS: `k1:${k1}` }) }),
    ).not.toThrow();
  });
});
