import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { RedisStreamQueue } from '../../src/redis';
import { startWriteBehind } from '../../src/typeorm';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/services';
import { crashEntity } from './crash_entity';
import { createAudit, dropAudit, dropTables, openWbDb, type WbDb } from './fixture';

const TABLE = `wb_crash_item_${process.pid}`;
const Item = crashEntity(TABLE);
const K = 1000;
const ROOT = join(__dirname, '..', '..');

/** Starts the child and resolves once it reports every save acknowledged. */
function runChild(env: Record<string, string>): {
  child: ChildProcess;
  acked: Promise<void>;
  exited: Promise<number | null>;
} {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', join(__dirname, 'crash_child.ts')],
    {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const acked = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`ACKED ${K}`)) resolve();
    });
    void exited.then((code) => reject(new Error(`child exited (${code}) before acknowledging: ${err}`)));
  });
  return { child, acked, exited };
}

describe('write-behind crash safety (real Redis and PostgreSQL, child processes)', () => {
  let db: WbDb;
  let admin: Redis;
  let audit: string;
  const names: string[] = [];
  const repo = () => db.ds.getRepository(Item);

  beforeAll(async () => {
    db = await openWbDb([Item]);
    admin = new Redis(REDIS_URL);
    audit = await createAudit(db.ds, TABLE);
  });
  beforeEach(async () => {
    await db.ds.query(`DELETE FROM "${TABLE}"`);
    await db.ds.query(`DELETE FROM "${audit}"`);
  });
  afterAll(async () => {
    await dropAudit(db.ds, TABLE);
    await dropTables(db.ds, [TABLE]);
    await db.close();
    for (const n of names) await deletePrefix(admin, n);
    await admin.quit();
  });

  test(`SIGKILL right after ${K} acknowledged saves: another process takes the pending entries over and the database gets exactly them`, async () => {
    const name = uniquePrefix('wbcrash');
    names.push(name);
    const { child, acked, exited } = runChild({
      WB_TABLE: TABLE,
      WB_QUEUE: name,
      WB_PREFIX: name,
      WB_K: String(K),
    });
    await acked;
    child.kill('SIGKILL');
    await exited;

    // Before any flush: nothing in the database, everything in the stream.
    expect(await repo().count()).toBe(0);
    const q = new RedisStreamQueue({ client: db.redis!, name, claimIdle: '500ms' });
    // Every acknowledged save is pending; the stream holds one entry per append call.
    expect((await q.depth()).pending).toBe(K);
    expect(await admin.xlen(q.streamKey)).toBeGreaterThan(0);
    // The dead child had read entries into its pending list: those need XAUTOCLAIM.
    const [pendingWithDead] = (await admin.xpending(q.streamKey, 'flushers')) as [number];
    expect(pendingWithDead).toBeGreaterThan(0);

    const wb = startWriteBehind(db.ds, db.cache, { queue: q });
    try {
      await wb.flush('30s');
      const rows = await repo().find({ order: { id: 'ASC' } });
      expect(rows).toHaveLength(K);
      rows.forEach((r, i) => expect(r).toMatchObject({ id: i, name: `item-${i}`, rev: i * 7 }));
      // Each acknowledged write applied exactly once.
      const [{ n, ids }] = await db.ds.query(
        `SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM "${audit}"`,
      );
      expect({ n, ids }).toEqual({ n: K, ids: K });
      expect(await wb.pending()).toBe(0);
      // The cache shows the flushed states to this new process as well.
      const cached = db.ck.repository(repo());
      expect(await cached.findOneById(K - 1)).toMatchObject({ rev: (K - 1) * 7 });
    } finally {
      await wb.close();
    }
  }, 60_000);

  test('memory mode with the shutdown hook: SIGTERM flushes pending writes before the process ends', async () => {
    const { child, acked, exited } = runChild({
      WB_TABLE: TABLE,
      WB_QUEUE: '',
      WB_PREFIX: uniquePrefix('wbterm'),
      WB_K: String(K),
    });
    await acked;
    expect(await repo().count()).toBe(0);
    child.kill('SIGTERM');
    await exited;
    expect(await repo().count()).toBe(K);
    expect(await repo().findOneBy({ id: 123 })).toMatchObject({ name: 'item-123', rev: 861 });
  }, 60_000);
});
