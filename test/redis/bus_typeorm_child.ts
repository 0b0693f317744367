/**
 * One instance of the two-process bus test (bus_typeorm.test.ts): a PostgreSQL DataSource with
 * the cachekit plugin over an L1 + Redis cache. Reads commands on stdin, one per line:
 * `read` (findOneById through the cache), `write <name>` (repo.save), `stats`; answers one JSON
 * line per command on stdout.
 */
import 'reflect-metadata';
import { createInterface } from 'node:readline';
import { Column, DataSource, Entity, PrimaryColumn } from 'typeorm';
import { Cache } from '../../src';
import { RedisStore } from '../../src/redis';
import { cachekitTypeOrm } from '../../src/typeorm';

const table = process.env.BUS_TABLE!;
const prefix = process.env.BUS_PREFIX!;
const name = process.env.BUS_NAME!;

@Entity({ name: table })
class BusRow {
  @PrimaryColumn()
  id!: number;
  @Column()
  name!: string;
}

async function main(): Promise<void> {
  const cache = new Cache({
    prefix,
    l2: new RedisStore({
      url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      redis: { connectionName: `${prefix}-${name}` },
    }),
  });
  const ck = cachekitTypeOrm(cache);
  const ds = new DataSource({
    type: 'postgres',
    url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    entities: [BusRow],
    subscribers: [ck.Subscriber],
  });
  await ds.initialize();
  const repo = ds.getRepository(BusRow);
  const cached = ck.repository(repo);
  const out = (x: unknown) => process.stdout.write(JSON.stringify(x) + '\n');
  out({ ready: true });
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.trim().split(' ');
    if (cmd === 'read') {
      const row = await cached.findOneById(1);
      out({ name: row?.name ?? null });
    } else if (cmd === 'write') {
      await repo.save({ id: 1, name: arg });
      out({ written: arg });
    } else if (cmd === 'stats') {
      const s = cache.stats();
      out({ live: s.bus.live, reconnects: s.bus.reconnects, l1Hits: s.l1.hits });
    } else if (cmd === 'quit') {
      break;
    }
  }
  await ds.destroy();
  await cache.close();
  // stdin is still open (the parent holds it): leave explicitly.
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(String((err as Error)?.stack ?? err) + '\n');
  process.exit(1);
});
