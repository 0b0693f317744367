import Redis from 'ioredis';
import { Cache, Cacheable, CacheTenantError, runWithTenant } from '../../src';
import { RedisStore } from '../../src/redis';
import { deletePrefix, REDIS_URL, requireRedis, uniquePrefix } from '../support/services';

describe('tenant isolation (L1 + Redis)', () => {
  const prefix = uniquePrefix('tenants');
  const admin = new Redis(REDIS_URL);
  let cache: Cache;
  beforeAll(async () => {
    await requireRedis();
    cache = new Cache({ prefix, tenancy: {}, l2: new RedisStore({ url: REDIS_URL }) });
  });
  afterAll(async () => {
    await cache.close();
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  test('tenant A never reads tenant B’s entry for the same key, in L1 or in Redis', async () => {
    const a = await runWithTenant('acme', () => cache.getOrLoad('profile', async () => 'acme data'));
    const b = await runWithTenant('globex', () => cache.getOrLoad('profile', async () => 'globex data'));
    expect([a, b]).toEqual(['acme data', 'globex data']);
    expect(await runWithTenant('acme', () => cache.get('profile'))).toBe('acme data');
    // A second process (no L1 of its own contents) sees the same separation in Redis.
    const other = new Cache({ prefix, tenancy: {}, l1: false, l2: new RedisStore({ url: REDIS_URL }) });
    try {
      expect(await runWithTenant('globex', () => other.get('profile'))).toBe('globex data');
      expect(await runWithTenant('initech', () => other.get('profile'))).toBeUndefined();
    } finally {
      await other.close();
    }
    const keys = await admin.keys(`${prefix}:*profile`);
    expect(keys.sort()).toEqual([`${prefix}:@acme:profile`, `${prefix}:@globex:profile`]);
  });

  test('decorated methods are scoped too: identical arguments, different tenants, different entries', async () => {
    let runs = 0;
    class Reports {
      cache = cache;
      @Cacheable()
      async total(year: number) {
        runs++;
        return `report ${year} #${runs}`;
      }
    }
    const r = new Reports();
    const a1 = await runWithTenant('acme', () => r.total(2026));
    const b1 = await runWithTenant('globex', () => r.total(2026));
    expect(a1).not.toBe(b1);
    expect(await runWithTenant('acme', () => r.total(2026))).toBe(a1);
    expect(runs).toBe(2);
  });

  test('a call with no tenant is a CacheTenantError when tenancy is required', async () => {
    await expect(cache.getOrLoad('x', () => 1)).rejects.toBeInstanceOf(CacheTenantError);
    await expect(cache.set('x', 1)).rejects.toBeInstanceOf(CacheTenantError);
    const optional = new Cache({ tenancy: { required: false } });
    expect(await optional.getOrLoad('x', () => 'shared')).toBe('shared');
  });

  test('ids that are not plain names cannot forge another tenant’s scope', async () => {
    await runWithTenant('a:b', () => cache.set('k', 'colon'));
    await runWithTenant('a', () => cache.set('b:k', 'plain'));
    expect(await runWithTenant('a:b', () => cache.get('k'))).toBe('colon');
    expect(await runWithTenant('a', () => cache.get('b:k'))).toBe('plain');
  });

  test('invalidation: global by default (all tenants), or the current tenant only', async () => {
    const load = (t: string, v: string) =>
      runWithTenant(t, () => cache.getOrLoad('priced', async () => v, { tags: ['prices'] }));
    await load('acme', 'a1');
    await load('globex', 'g1');
    await runWithTenant('acme', () => cache.invalidateTags(['prices'], { scope: 'tenant' }));
    expect(await load('acme', 'a2')).toBe('a2');
    expect(await load('globex', 'g2')).toBe('g1');
    // Outside any tenant (as the TypeORM subscriber is), an invalidation reaches every tenant.
    await cache.invalidateTags(['prices']);
    expect(await load('acme', 'a3')).toBe('a3');
    expect(await load('globex', 'g3')).toBe('g3');
  });
});
