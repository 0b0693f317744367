import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Column, DataSource, Entity, PrimaryGeneratedColumn, type Repository } from 'typeorm';
import { Cache } from '../../src';
import { cacheOptionsFromConfig, loadConfig } from '../../src/config';
import { RedisStore } from '../../src/redis';
import { cachekitTypeOrm } from '../../src/typeorm';
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

const TABLE = `ck_evbus_gadget_${process.pid}`;
const prefix = uniquePrefix('events-bus');

@Entity({ name: TABLE })
class Gadget {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
}

/** The seed's config shape: the policy is wired to the events by invalidate_on and nothing else. */
const CONFIG = `
cache:
  type: redis
  prefix: \${EV_PREFIX}
  default_ttl: 1h
  policies:
    gadgets:
      ttl: 1h
      invalidate_on: [gadget.inserted, gadget.updated, gadget.deleted, catalog.refresh]
`;

/** The child cache process, driven line by line. */
function child(configPath: string) {
  return lineChild(join(__dirname, 'events_child.ts'), {
    EV_CONFIG: configPath,
    EV_PREFIX: prefix,
    EV_TABLE: TABLE,
    EV_NAME: 'child',
    REDIS_URL,
    DATABASE_URL,
  });
}

describe('domain events reach a second process (L1 + Redis, PostgreSQL, YAML config)', () => {
  const admin = new Redis(REDIS_URL);
  const dir = mkdtempSync(join(tmpdir(), 'ck-events-'));
  const configPath = join(dir, 'cache_config.yaml');
  let cache: Cache;
  let ds: DataSource;
  let repo: Repository<Gadget>;
  let c: ReturnType<typeof child>;

  /** Reads in the child until its list was loaded `loads` times (the bus is asynchronous), at most 5 s. */
  async function childReadUntil(loads: number): Promise<Record<string, unknown>> {
    let r = await c.ask('read');
    for (let i = 0; i < 100 && (r.loads as number) < loads; i++) {
      await sleep(50);
      r = await c.ask('read');
    }
    return r;
  }

  beforeAll(async () => {
    await requireRedis();
    await requirePostgres();
    writeFileSync(configPath, CONFIG);
    const options = cacheOptionsFromConfig(loadConfig({ path: configPath }, { env: { EV_PREFIX: prefix } }));
    cache = new Cache({ ...options, l2: new RedisStore({ url: REDIS_URL }) });
    const ck = cachekitTypeOrm(cache, { onError: (e) => console.error(e) });
    ds = await new DataSource({
      type: 'postgres',
      url: DATABASE_URL,
      entities: [Gadget],
      synchronize: true,
      subscribers: [ck.Subscriber],
    }).initialize();
    repo = ds.getRepository(Gadget);
    c = child(configPath);
    expect(await c.next()).toEqual({ ready: true });
    for (let i = 0; i < 200 && !(await c.ask('stats')).live; i++) await sleep(10);
    expect((await c.ask('stats')).live).toBe(true);
  }, 60_000);

  afterAll(async () => {
    if (c && c.p.exitCode === null) {
      const exited = new Promise((r) => c.p.once('exit', r));
      c.p.stdin.write('quit\n');
      const timer = setTimeout(() => c.p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await ds?.query(`DROP TABLE IF EXISTS "${TABLE}"`);
    await ds?.destroy();
    await cache?.close();
    await deletePrefix(admin, prefix);
    await admin.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a TypeORM write and a manual emit in this process drop the child’s L1 entries', async () => {
    expect(await c.ask('read')).toEqual({ names: [], loads: 1 });
    expect(await c.ask('read')).toEqual({ names: [], loads: 1 });
    expect((await c.ask('stats')).l1Hits).toBeGreaterThan(0);

    // A committed insert in this process: gadget.inserted.
    const g = await repo.save({ name: 'a' });
    expect(await childReadUntil(2)).toEqual({ names: ['a'], loads: 2 });

    // A rolled-back one emits nothing: the child keeps serving its entry from L1.
    await expect(
      ds.transaction(async (m) => {
        await m.save(Gadget, { name: 'ghost' });
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    const hits = (await c.ask('stats')).l1Hits as number;
    expect(await c.ask('read')).toEqual({ names: ['a'], loads: 2 });
    expect((await c.ask('stats')).l1Hits).toBe(hits + 1);

    // A committed update and delete.
    await repo.save({ id: g.id, name: 'b' });
    expect(await childReadUntil(3)).toEqual({ names: ['b'], loads: 3 });
    await repo.delete(g.id);
    expect(await childReadUntil(4)).toEqual({ names: [], loads: 4 });

    // A manual emit of an event the policy listens to, with no write at all.
    await cache.emit('catalog.refresh');
    expect(await childReadUntil(5)).toEqual({ names: [], loads: 5 });
  }, 60_000);

  test('an emit with an id reaches, in the child, the entries of that row and no other', async () => {
    expect(await c.ask('keyed 1')).toEqual({ loads: 1 });
    expect(await c.ask('keyed 2')).toEqual({ loads: 1 });
    const list = (await c.ask('read')).loads as number;
    await cache.emit('gadget.updated', { id: 2 });
    let two = await c.ask('keyed 2');
    for (let i = 0; i < 100 && two.loads === 1; i++) {
      await sleep(50);
      two = await c.ask('keyed 2');
    }
    expect(two).toEqual({ loads: 2 });
    expect(await c.ask('keyed 1')).toEqual({ loads: 1 });
    // The list is tied to no row: any gadget's update may change it.
    expect(await childReadUntil(list + 1)).toMatchObject({ loads: list + 1 });
  }, 60_000);
});
