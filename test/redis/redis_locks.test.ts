import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Cache } from '../../src';
import { RedisLocks, RedisStore } from '../../src/redis';
import {
  deletePrefix,
  REDIS_URL,
  requireRedis,
  sleep,
  startPrivateRedis,
  uniquePrefix,
} from '../support/services';

/** The lock key (and release channel) of an entry key under the default lock prefix. */
const lockKeyOf = (key: string) => `cachekit-lock ${key}`;

/** How many connections are subscribed to a lock's release channel. */
async function subscribers(admin: Redis, key: string): Promise<number> {
  const [, n] = (await admin.pubsub('NUMSUB', lockKeyOf(key))) as [string, number];
  return Number(n);
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

/** Open TCP sockets of this process. */
function openSockets(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

/** Settles to the outcome of `p` and how long it took, without throwing. */
async function timed<T>(p: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = Date.now();
  try {
    const value = await p;
    return { ms: Date.now() - t0, value };
  } catch (error) {
    return { ms: Date.now() - t0, error };
  }
}

describe('RedisLocks', () => {
  const prefix = uniquePrefix('redis-locks');
  let admin: Redis;
  const clients: Redis[] = [];
  const lockSets: RedisLocks[] = [];
  const k = (name: string) => `${prefix}:${name}`;

  /** A client and its RedisLocks, as another process would have them. */
  function node(options?: ConstructorParameters<typeof RedisLocks>[1]): RedisLocks {
    const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(client);
    const locks = new RedisLocks(client, options);
    lockSets.push(locks);
    return locks;
  }

  beforeAll(async () => {
    await requireRedis();
    admin = new Redis(REDIS_URL);
    await admin.ping();
  });
  afterAll(async () => {
    for (const l of lockSets) await l.close();
    for (const c of clients) await c.quit();
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  test('acquire is exclusive; a wrong token releases nothing; the right one releases and wakes a waiter by notification', async () => {
    const holder = node();
    // Polls 30 s apart: within this test only the release notification can wake the waiter.
    const other = node({ pollMin: '30s', pollMax: '30s' });
    const key = k('exclusive');

    const token = await holder.acquire(key, 10_000);
    expect(typeof token).toBe('string');
    expect(await admin.get(lockKeyOf(key))).toBe(token);
    expect(await other.acquire(key, 10_000)).toBeUndefined();
    expect(await holder.acquire(key, 10_000)).toBeUndefined();

    let woke: boolean | undefined;
    const waiting = other.waitForRelease(key, 20_000).then((r) => (woke = r));
    await until('the waiter is subscribed', async () => (await subscribers(admin, key)) === 1);

    await holder.release(key, 'not-the-token');
    await sleep(200);
    expect(woke).toBeUndefined();
    expect(await admin.get(lockKeyOf(key))).toBe(token);
    expect(await other.acquire(key, 10_000)).toBeUndefined();

    const released = Date.now();
    await holder.release(key, token!);
    await waiting;
    const wokeAfterMs = Date.now() - released;
    expect(woke).toBe(true);
    expect(wokeAfterMs).toBeLessThan(1000); // the next poll was 30 s away
    expect(await admin.exists(lockKeyOf(key))).toBe(0);
    // The waiter's subscription ends with its wait.
    await until('the channel has no subscriber', async () => (await subscribers(admin, key)) === 0);
    // Free again: anyone can take it.
    const next = await other.acquire(key, 10_000);
    expect(next).toBeDefined();
    expect(next).not.toBe(token);
    await other.release(key, next!);
  });

  test('a late release does not delete a lock that expired and was taken by someone else', async () => {
    const slow = node();
    const other = node();
    const key = k('expired-then-taken');
    const stale = await slow.acquire(key, 50);
    expect(stale).toBeDefined();
    await until('the lock expired', async () => (await admin.exists(lockKeyOf(key))) === 0);
    const fresh = await other.acquire(key, 10_000);
    expect(fresh).toBeDefined();

    await slow.release(key, stale!);
    expect(await admin.get(lockKeyOf(key))).toBe(fresh);
    expect(await slow.acquire(key, 10_000)).toBeUndefined();
    await other.release(key, fresh!);
    expect(await admin.exists(lockKeyOf(key))).toBe(0);
  });

  test('a holder that dies never releases: the lock expires after its TTL and a waiter wakes by polling', async () => {
    const dead = node();
    const waiter = node();
    const key = k('dead-holder');
    const acquiredAt = Date.now();
    expect(await dead.acquire(key, 300)).toBeDefined();
    // Nobody publishes anything for this key: only the poll can see the lock go.
    const r = await timed(waiter.waitForRelease(key, 5_000));
    expect(r.value).toBe(true);
    expect(Date.now() - acquiredAt).toBeGreaterThanOrEqual(290);
    expect(await admin.exists(lockKeyOf(key))).toBe(0);
  });

  test('waitForRelease resolves false at its timeout when nobody releases, and stops listening', async () => {
    const holder = node();
    const waiter = node();
    const key = k('timeout');
    const token = await holder.acquire(key, 10_000);
    expect(token).toBeDefined();
    const r = await timed(waiter.waitForRelease(key, 250));
    expect(r.value).toBe(false);
    expect(r.ms).toBeGreaterThanOrEqual(240);
    expect(r.ms).toBeLessThan(5000);
    await until('the channel has no subscriber', async () => (await subscribers(admin, key)) === 0);
    expect(await admin.get(lockKeyOf(key))).toBe(token);
    await holder.release(key, token!);
  });

  test('many waiters of one process share one subscription and all wake on the release', async () => {
    const holder = node();
    const waiter = node({ pollMin: '30s', pollMax: '30s' });
    const key = k('many-waiters');
    const token = await holder.acquire(key, 10_000);
    const waits = Array.from({ length: 200 }, () => waiter.waitForRelease(key, 20_000));
    await until('the waiters are subscribed', async () => (await subscribers(admin, key)) === 1);
    await holder.release(key, token!);
    expect(await Promise.all(waits)).toEqual(Array(200).fill(true));
  });

  test('a release announced before the subscription took effect is not missed', async () => {
    const holder = node();
    const waiter = node({ pollMin: '30s', pollMax: '30s' });
    const key = k('release-before-subscribe');
    const token = await holder.acquire(key, 10_000);
    // The wait starts, and the release lands while its SUBSCRIBE is still on the way.
    const waiting = timed(waiter.waitForRelease(key, 20_000));
    await holder.release(key, token!);
    const r = await waiting;
    expect(r.value).toBe(true);
    expect(r.ms).toBeLessThan(1000);
  });

  test.each([
    ['RedisLocks directly', false],
    ['Cache.getOrLoad({ lock: true })', true],
  ])(
    '2 processes × 500 concurrent callers on one cold key coordinate through the lock (%s): the loader runs once',
    async (_label, engine) => {
      const key = k(engine ? 'stampede-engine' : 'stampede');
      const valueKey = k('stampede:value');
      const child = () => {
        const p = spawn(
          process.execPath,
          ['-r', 'ts-node/register/transpile-only', join(__dirname, 'redis_locks_child.ts')],
          {
            cwd: join(__dirname, '..', '..'),
            env: {
              ...process.env,
              REDIS_URL,
              LOCK_KEY: key,
              VALUE_KEY: valueKey,
              CALLERS: '500',
              LOAD_MS: '100',
              ...(engine ? { ENGINE: k('engine') } : {}),
            },
            stdio: ['pipe', 'pipe', 'pipe'],
          },
        );
        let out = '';
        let err = '';
        p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
        p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
        const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
        return { p, out: () => out, err: () => err, exited };
      };
      const children = [child(), child()];
      try {
        await until(
          'both children are ready',
          () => children.every((c) => c.out().includes('ready')),
          20_000,
        );
        for (const c of children) c.p.stdin.write('go\n');
        const codes = await Promise.all(children.map((c) => c.exited));
        expect({ codes, stderr: children.map((c) => c.err()) }).toEqual({ codes: [0, 0], stderr: ['', ''] });
      } finally {
        for (const c of children) if (c.p.exitCode === null) c.p.kill('SIGKILL');
      }
      const reports = children.map(
        (c) =>
          JSON.parse(
            c
              .out()
              .split('\n')
              .find((l) => l.startsWith('{'))!,
          ) as {
            loads: number;
            waits: number;
            results: number;
            distinct: string[];
            elapsedMs: number;
          },
      );
      expect(reports.reduce((s, r) => s + r.loads, 0)).toBe(1);
      expect(reports.map((r) => r.results)).toEqual([500, 500]);
      // Every caller of both processes got the one loaded value.
      const value = engine ? reports[0].distinct[0] : await admin.get(valueKey);
      expect(value).toMatch(/^loaded by \d+$/);
      for (const r of reports) expect(r.distinct).toEqual([value]);
      // The process that did not load really contended: its callers waited on the other's lock.
      expect(reports.find((r) => r.loads === 0)!.waits).toBeGreaterThan(0);
      expect(await admin.exists(lockKeyOf(engine ? `${k('engine')}:_:stampede` : key))).toBe(0);
    },
  );

  test('close() resolves pending waits false and closes the subscriber connection', async () => {
    const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(client);
    await client.ping();
    const holder = node();
    const key = k('close');
    const token = await holder.acquire(key, 10_000);
    const before = openSockets();
    const locks = new RedisLocks(client);
    const waits = [locks.waitForRelease(key, 20_000), locks.waitForRelease(k('close-2'), 20_000)];
    await holder.acquire(k('close-2'), 10_000);
    await until('the waiter is subscribed', async () => (await subscribers(admin, key)) === 1);
    expect(openSockets()).toBe(before + 1);

    const r = await timed(locks.close());
    expect(r.error).toBeUndefined();
    expect(await Promise.all(waits)).toEqual([false, false]);
    expect(await locks.waitForRelease(key, 20_000)).toBe(false);
    await until('the subscriber socket is closed', () => openSockets() === before);
    await until('the channel has no subscriber', async () => (await subscribers(admin, key)) === 0);
    // The client passed in is the caller's: it stays usable.
    expect(await client.ping()).toBe('PONG');
    await holder.release(key, token!);
  });

  test('RedisStore exposes its locks and closes their subscriber, even on a client it does not own', async () => {
    const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(client);
    const store = new RedisStore({ client });
    expect(store.locks).toBeInstanceOf(RedisLocks);
    const holder = node();
    const key = k('store-close');
    const token = await holder.acquire(key, 10_000);
    const waiting = store.locks.waitForRelease(key, 20_000);
    await until('the waiter is subscribed', async () => (await subscribers(admin, key)) === 1);
    await store.close();
    expect(await waiting).toBe(false);
    await until('the channel has no subscriber', async () => (await subscribers(admin, key)) === 0);
    expect(await client.ping()).toBe('PONG');
    await holder.release(key, token!);
  });

  test('two caches on separate connections with { lock: true }: one load between them', async () => {
    const stores = [0, 1].map(() => {
      const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      clients.push(client);
      return new RedisStore({ client });
    });
    const caches = stores.map((s) => new Cache({ prefix, l1: false, l2: { store: s } }));
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(100);
      return { id: 7 };
    };
    const results = await Promise.all(
      caches.flatMap((c) => Array.from({ length: 50 }, () => c.getOrLoad('locked', loader, { lock: true }))),
    );
    expect(loads).toBe(1);
    expect(results).toEqual(Array(100).fill({ id: 7 }));
    for (const c of caches) await c.close();
  });

  test('with Redis down, acquire and release reject and a wait settles promptly instead of hanging', async () => {
    const redis = await startPrivateRedis();
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    const locks = new RedisLocks(client);
    try {
      const key = k('down');
      const token = await locks.acquire(key, 10_000);
      expect(token).toBeDefined();
      const pending = timed(locks.waitForRelease(key, 15_000));
      await sleep(100);
      await redis.stop();

      const [acq, rel, wait, early] = await Promise.all([
        timed(locks.acquire(k('down-2'), 10_000)),
        timed(locks.release(key, token!)),
        timed(locks.waitForRelease(k('down-3'), 15_000)),
        pending,
      ]);
      expect(acq.error).toBeInstanceOf(Error);
      expect(rel.error).toBeInstanceOf(Error);
      // Either answer is prompt; what matters is that neither waits out its 15 s.
      for (const r of [wait, early]) {
        expect(r.error !== undefined || r.value === false).toBe(true);
        expect(r.ms).toBeLessThan(5000);
      }
      expect(acq.ms).toBeLessThan(5000);
      expect(rel.ms).toBeLessThan(5000);
    } finally {
      await locks.close();
      client.disconnect();
      await redis.stop();
    }
  });
});
