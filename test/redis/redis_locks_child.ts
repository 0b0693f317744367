/**
 * One process of the cross-process stampede test in redis_locks.test.ts. Its callers coordinate
 * with the other process only through RedisLocks: take the lock and load, or wait for the
 * release and read what the holder wrote. Prints `ready`, waits for `go` on stdin (so both
 * processes start together), then prints one JSON line with what it saw.
 */
import Redis from 'ioredis';
import { Cache } from '../../src';
import { RedisLocks, RedisStore } from '../../src/redis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const key = required('LOCK_KEY');
const valueKey = required('VALUE_KEY');
const callers = Number(required('CALLERS'));
const loadMs = Number(required('LOAD_MS'));

function required(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const locks = new RedisLocks(redis);
  await redis.ping();
  let loads = 0;
  let waits = 0;

  const call = async (): Promise<string> => {
    for (;;) {
      const v = await redis.get(valueKey);
      if (v !== null) return v;
      const token = await locks.acquire(key, 10_000);
      if (token !== undefined) {
        try {
          // The holder before may have written the value just before releasing.
          const again = await redis.get(valueKey);
          if (again !== null) return again;
          loads++;
          await sleep(loadMs);
          const value = `loaded by ${process.pid}`;
          await redis.set(valueKey, value, 'PX', 60_000);
          return value;
        } finally {
          await locks.release(key, token);
        }
      }
      waits++;
      await locks.waitForRelease(key, 5_000);
    }
  };

  // ENGINE=<prefix>: the same stampede through Cache.getOrLoad({ lock: true }) instead.
  const enginePrefix = process.env.ENGINE;
  const cache =
    enginePrefix === undefined
      ? undefined
      : new Cache({ prefix: enginePrefix, l2: new RedisStore({ client: redis }) });
  const engineCall = () =>
    cache!.getOrLoad(
      'stampede',
      async () => {
        loads++;
        await sleep(loadMs);
        return `loaded by ${process.pid}`;
      },
      { lock: true, ttl: '1m' },
    );

  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => {
      if (d.includes('go')) resolve();
    });
  });
  process.stdin.pause();
  const started = Date.now();
  const values = await Promise.all(Array.from({ length: callers }, cache ? engineCall : call));
  if (cache) waits = cache.stats().locks.waits;
  await cache?.close();
  const elapsedMs = Date.now() - started;
  await locks.close();
  await redis.quit();
  process.stdout.write(
    JSON.stringify({ loads, waits, results: values.length, distinct: [...new Set(values)], elapsedMs }) +
      '\n',
  );
}

main().catch((err) => {
  process.stderr.write(String((err as Error)?.stack ?? err) + '\n');
  process.exit(1);
});
