import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import {
  DATABASE_URL,
  deletePrefix,
  REDIS_URL,
  requirePostgres,
  requireRedis,
  sleep,
  uniquePrefix,
} from '../support/services';
import { lineChild } from '../support/line_child';

const TABLE = `ck_bus_row_${process.pid}`;
const prefix = uniquePrefix('bus-typeorm');

/** A child instance driven line by line. */
function instance(name: string) {
  return lineChild(
    join(__dirname, 'bus_typeorm_child.ts'),
    { BUS_TABLE: TABLE, BUS_PREFIX: prefix, BUS_NAME: name, REDIS_URL, DATABASE_URL },
    name,
  );
}

describe('L1 invalidation bus between two processes on TypeORM (PostgreSQL)', () => {
  const admin = new Redis(REDIS_URL);
  const pg = new Client({ connectionString: DATABASE_URL });
  let a: ReturnType<typeof instance>;
  let b: ReturnType<typeof instance>;

  beforeAll(async () => {
    await requireRedis();
    await requirePostgres();
    await pg.connect();
    await pg.query(`CREATE TABLE "${TABLE}" (id int PRIMARY KEY, name text NOT NULL)`);
    await pg.query(`INSERT INTO "${TABLE}" VALUES (1, 'v1')`);
    a = instance('a');
    b = instance('b');
    expect(await a.next()).toEqual({ ready: true });
    expect(await b.next()).toEqual({ ready: true });
  }, 60_000);

  afterAll(async () => {
    for (const c of [a, b]) {
      if (c && c.p.exitCode === null) {
        const exited = new Promise((r) => c.p.once('exit', r));
        c.p.stdin.write('quit\n');
        const timer = setTimeout(() => c.p.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    }
    await pg.query(`DROP TABLE IF EXISTS "${TABLE}"`);
    await pg.end();
    await deletePrefix(admin, prefix);
    await admin.quit();
  });

  test('a committed update in A reaches B’s L1; B never serves what was invalidated while its bus was cut', async () => {
    // Both subscribed.
    for (const c of [a, b]) {
      for (let i = 0; i < 200 && !(await c.ask('stats')).live; i++) await sleep(10);
    }
    expect(await b.ask('read')).toEqual({ name: 'v1' });
    expect(await b.ask('read')).toEqual({ name: 'v1' }); // an L1 hit in B
    const hitsBefore = (await b.ask('stats')).l1Hits as number;
    expect(hitsBefore).toBeGreaterThan(0);

    await a.ask('write v2');
    await sleep(100); // the propagation window (measured p99 ~7 ms)
    expect(await b.ask('read')).toEqual({ name: 'v2' });

    // Cut B's subscriber connection; A commits while B cannot hear.
    const list = (await admin.client('LIST')) as string;
    const line = list.split('\n').find((l) => l.includes(`name=${prefix}-b`) && / sub=1 /.test(l));
    expect(line).toBeDefined();
    await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line!)![1]);
    await a.ask('write v3');
    // From the cut on, B must not serve v2, whether or not it has noticed the cut yet
    // (CLIENT KILL closes the socket, so it notices within the read's own round trip).
    await sleep(20);
    expect(await b.ask('read')).toEqual({ name: 'v3' });
    for (let i = 0; i < 300 && !(await b.ask('stats')).live; i++) await sleep(10);
    const s = await b.ask('stats');
    expect(s.live).toBe(true);
    expect(s.reconnects).toBe(1);
    await a.ask('write v4');
    await sleep(100);
    expect(await b.ask('read')).toEqual({ name: 'v4' });
  }, 60_000);
});
