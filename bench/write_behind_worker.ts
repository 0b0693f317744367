/**
 * The flusher process of the write-behind scenario's "worker" arm: it opens the same table,
 * cache prefix and queue as the bench process, runs a flusher (and nothing else) until it is
 * told to stop on stdin, then closes, flushing what is left. Started by bench/write_behind.ts.
 *
 * env: WB_TABLE, WB_QUEUE, WB_PREFIX, WB_REDIS_URL, DATABASE_URL.
 */
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { Cache } from '../src';
import { RedisStore, RedisStreamQueue } from '../src/redis';
import { cachekitTypeOrm, startWriteBehind } from '../src/typeorm';
import { benchRowEntity } from './write_behind_row';

async function main(): Promise<void> {
  const env = (k: string) => {
    const v = process.env[k];
    if (v === undefined) throw new Error(`${k} is not set`);
    return v;
  };
  const client = new Redis(env('WB_REDIS_URL'));
  const cache = new Cache({ prefix: env('WB_PREFIX'), l2: new RedisStore({ client }) });
  const ck = cachekitTypeOrm(cache);
  const ds = new DataSource({
    type: 'postgres',
    url: env('DATABASE_URL'),
    entities: [benchRowEntity(env('WB_TABLE'))],
    subscribers: [ck.Subscriber],
    extra: { max: 4 },
  });
  await ds.initialize();
  const wb = startWriteBehind(ds, cache, { queue: new RedisStreamQueue({ client, name: env('WB_QUEUE') }) });
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    process.stdin.on('data', (d) => {
      if (String(d).includes('stop')) resolve();
    });
    process.stdin.on('end', () => resolve());
  });
  await wb.close();
  await ds.destroy();
  await cache.close();
  client.disconnect();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
