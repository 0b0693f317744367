/**
 * The second process of events_bus.test.ts: an L1 + Redis cache whose policies come from the
 * YAML config file the parent wrote (EV_CONFIG). It has no TypeORM plugin and reads with a plain
 * pg client, so only domain events can reach its entries. Commands on stdin, one per line:
 * `read` (the cached list of names, and how many times it was loaded), `keyed <id>` (an entry
 * tied to row <id>), `stats`, `quit`; one JSON line per command on stdout.
 */
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import { Cache, rowTag } from '../../src';
import { cacheOptionsFromConfig, loadConfig } from '../../src/config';
import { RedisStore } from '../../src/redis';

const table = process.env.EV_TABLE!;
const name = process.env.EV_NAME!;

async function main(): Promise<void> {
  const config = loadConfig({ path: process.env.EV_CONFIG! });
  const options = cacheOptionsFromConfig(config);
  const cache = new Cache({
    ...options,
    l2: new RedisStore({
      url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      redis: { connectionName: `${options.prefix}-${name}` },
    }),
  });
  const pg = new Client({ connectionString: process.env.DATABASE_URL });
  await pg.connect();
  let loads = 0;
  const keyedLoads = new Map<string, number>();
  const out = (x: unknown) => process.stdout.write(JSON.stringify(x) + '\n');
  out({ ready: true });
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.trim().split(' ');
    if (cmd === 'read') {
      const names = await cache.getOrLoad(
        'gadget-names',
        async () => {
          loads++;
          const r = await pg.query<{ name: string }>(`SELECT name FROM "${table}" ORDER BY id`);
          return r.rows.map((row) => row.name);
        },
        { policy: 'gadgets' },
      );
      out({ names, loads });
    } else if (cmd === 'keyed') {
      const n = await cache.getOrLoad(
        `keyed-${arg}`,
        () => {
          const next = (keyedLoads.get(arg) ?? 0) + 1;
          keyedLoads.set(arg, next);
          return next;
        },
        { policy: 'gadgets', tags: [rowTag('Gadget', Number(arg))] },
      );
      out({ loads: n });
    } else if (cmd === 'stats') {
      const s = cache.stats();
      out({ live: s.bus.live, l1Hits: s.l1.hits });
    } else if (cmd === 'quit') {
      break;
    }
  }
  await pg.end();
  await cache.close();
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(String((err as Error)?.stack ?? err) + '\n');
  process.exit(1);
});
