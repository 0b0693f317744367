/*
 * Child process of crash.test.ts: saves K entities through write-behind, prints "ACKED <K>"
 * once every save has resolved, then idles until the parent kills it (SIGKILL) or signals it
 * (SIGTERM, memory mode with the shutdown hook).
 *
 * Env: WB_TABLE, WB_PREFIX (cache prefix), WB_QUEUE (stream name; empty = memory queue), WB_K.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import Redis from 'ioredis';
import { Cache } from '../../src';
import { RedisStore, RedisStreamQueue } from '../../src/redis';
import { cachekitTypeOrm, startWriteBehind } from '../../src/typeorm';
import { crashEntity } from './crash_entity';

async function main(): Promise<void> {
  const table = process.env.WB_TABLE!;
  const queueName = process.env.WB_QUEUE ?? '';
  const k = Number(process.env.WB_K);
  const Item = crashEntity(table);
  const redis = queueName ? new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') : undefined;
  const cache = new Cache({
    prefix: process.env.WB_PREFIX,
    ...(redis ? { l2: new RedisStore({ client: redis }) } : {}),
  });
  const ck = cachekitTypeOrm(cache);
  const ds = new DataSource({
    type: 'postgres',
    url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    entities: [Item],
    subscribers: [ck.Subscriber],
  });
  await ds.initialize();
  // Batches that never fill and a deadline far away: nothing is flushed before the kill.
  startWriteBehind(ds, cache, {
    maxDelay: '1h',
    batchSize: 100_000,
    ...(redis ? { queue: new RedisStreamQueue({ client: redis, name: queueName }) } : { shutdownHook: true }),
  });
  const items = ck.repository(ds.getRepository(Item));
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < k) {
        const id = next++;
        await items.save({ id, name: `item-${id}`, rev: id * 7 });
      }
    }),
  );
  process.stdout.write(`ACKED ${k}\n`);
  setInterval(() => {}, 1 << 30);
}

main().catch((err) => {
  process.stderr.write(`child failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
