import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Cache } from '../../src';
import { RedisStore } from '../../src/redis';
import { freePort, type PrivateRedis, sleep, startPrivateRedis, uniquePrefix } from '../support/services';

/*
 * The README's Sentinel recipe: ioredis Sentinel options passed through `redis` reach a store
 * that finds its primary through a private Sentinel.
 */
describe('RedisStore through Redis Sentinel', () => {
  let primary: PrivateRedis;
  let sentinel: ChildProcess;
  let sentinelPort: number;
  let dir: string;

  beforeAll(async () => {
    primary = await startPrivateRedis();
    sentinelPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'cachekit-sentinel-'));
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ck 127.0.0.1 ${primary.port} 1\n`,
    );
    sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    sentinel.once('error', () => {});
    const deadline = Date.now() + 10_000;
    for (;;) {
      const c = new Redis({
        port: sentinelPort,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      c.on('error', () => {});
      try {
        await c.connect();
        const addr = (await c.call('SENTINEL', 'get-master-addr-by-name', 'ck')) as string[] | null;
        if (addr?.[1] === String(primary.port)) break;
      } catch {
        // not up yet
      } finally {
        c.disconnect();
      }
      if (Date.now() > deadline)
        throw new Error('redis-server --sentinel did not start; is redis-server installed?');
      await sleep(100);
    }
  });
  afterAll(async () => {
    if (sentinel && sentinel.exitCode === null) {
      const exited = new Promise((r) => sentinel.once('exit', r));
      sentinel.kill('SIGKILL');
      await exited;
    }
    await primary?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a store built from Sentinel options caches and invalidates on the primary', async () => {
    const store = new RedisStore({
      redis: { sentinels: [{ host: '127.0.0.1', port: sentinelPort }], name: 'ck' },
    });
    const cache = new Cache({ prefix: uniquePrefix('sentinel'), l1: false, l2: { store } });
    const direct = new Redis(primary.url);
    try {
      let loads = 0;
      expect(await cache.getOrLoad('k', () => ++loads, { tags: ['t'] })).toBe(1);
      expect(await cache.getOrLoad('k', () => ++loads, { tags: ['t'] })).toBe(1);
      // The entry is on the primary that Sentinel named.
      expect(await direct.dbsize()).toBeGreaterThan(0);
      await cache.invalidateTags(['t']);
      expect(await cache.getOrLoad('k', () => ++loads, { tags: ['t'] })).toBe(2);
    } finally {
      await cache.close();
      await direct.quit();
    }
  });
});
