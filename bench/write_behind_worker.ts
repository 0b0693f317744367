/**
 * The flusher process of the write-behind scenario's "worker" arm: it opens the same table and
 * cache prefix as the bench process and runs a flusher (and nothing else) on the queue it is
 * told, round after round, like a long-lived worker of a real deployment. Started once by
 * bench/write_behind.ts, which drives it over stdin, one command per line:
 *
 *   start <queue>   flush queue <queue>; answers `ready <queue>` once its flusher runs
 *   stop            close that flusher (flushing what is left); answers `stopped`
 *   exit            (or the end of stdin) closes everything and exits
 *
 * env: WB_TABLE, WB_PREFIX, WB_REDIS_URL, DATABASE_URL.
 */
import { createInterface } from 'node:readline';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { Cache, type WriteBehind } from '../src';
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
  let wb: WriteBehind | undefined;
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say('up');
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'start') {
      if (wb !== undefined) throw new Error('start while a flusher runs');
      wb = startWriteBehind(ds, cache, { queue: new RedisStreamQueue({ client, name: arg }) });
      say(`ready ${arg}`);
    } else if (cmd === 'stop') {
      await wb?.close();
      wb = undefined;
      say('stopped');
    } else if (cmd === 'exit') {
      break;
    } else if (cmd !== undefined && cmd !== '') {
      throw new Error(`unknown command: ${line}`);
    }
  }
  await wb?.close();
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
