/**
 * Scenario "write-behind vs direct saves": 10,000 updates spread over 1,000 rows of a
 * PostgreSQL table, 16 concurrent writers, side by side:
 *
 *   - direct `repository.save` per update (TypeORM: SELECT, then UPDATE in a transaction);
 *   - direct `repository.upsert` per update (one statement: the strongest direct baseline);
 *   - `cachedRepository.save` of a write-behind entity, on a RedisStreamQueue: a save
 *     resolves once Redis holds the write; the flusher persists in batches.
 *
 * Throughput counts acknowledged updates per second; for write-behind it is also shown up to
 * the end of the flush (every update in the database). The flush lag is measured outside the
 * code under test: a trigger stamps every row version the database applies, and each update's
 * lag is the time from its acknowledgment to the first applied version that includes it.
 *
 * Runs against the shared PostgreSQL (its own `wb_bench_*` table, dropped at the end) and a
 * private, throw-away redis-server. Alone: `npx ts-node --transpile-only bench/write_behind.ts`.
 */
import 'reflect-metadata';
import Redis from 'ioredis';
import { Column, DataSource, Entity, PrimaryColumn } from 'typeorm';
import { Cache, CachePolicy } from '../src';
import { RedisStore, RedisStreamQueue } from '../src/redis';
import { cachekitTypeOrm, startWriteBehind } from '../src/typeorm';
import { fmtOps, fmtRatio, printTable, sized, startRedis } from './support';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TABLE = `wb_bench_row_${process.pid}`;
const ROWS = sized(1000, 64);
const UPDATES = sized(10_000, 200);
const WRITERS = 16;
const ROUNDS = sized(3, 1);

@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: TABLE })
class WbBenchRow {
  @PrimaryColumn('int')
  id!: number;
  @Column('text')
  name!: string;
  @Column('int')
  qty!: number;
  @Column('int')
  rev!: number;
}

/** One update: its row and the row's revision (rows are split among writers, so revisions are in order). */
interface Update {
  id: number;
  rev: number;
}

/**
 * The same updates for every contestant: writer w owns the rows with id % WRITERS === w and
 * updates them in a fixed pseudo-random order, so each row's updates are acknowledged in order.
 */
function plan(): Update[][] {
  let x = 0x2545f491;
  const rand = () => ((x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) | 0) >>> 0) / 2 ** 32;
  const perWriter: Update[][] = Array.from({ length: WRITERS }, () => []);
  const revs = new Int32Array(ROWS);
  for (let i = 0; i < UPDATES; i++) {
    const w = i % WRITERS;
    const owned = Math.ceil((ROWS - w) / WRITERS);
    const id = w + WRITERS * Math.floor(rand() * owned);
    perWriter[w].push({ id, rev: ++revs[id] });
  }
  return perWriter;
}

const row = (u: Update) => ({ id: u.id, name: `row-${u.id}-${u.rev}`, qty: u.rev * 3, rev: u.rev });

/** Runs the plan with one writer per list; resolves to the wall time and each update's ack time. */
async function drive(
  perWriter: Update[][],
  write: (u: Update) => Promise<unknown>,
): Promise<{ ms: number; acks: Map<string, number> }> {
  const acks = new Map<string, number>();
  const t0 = performance.now();
  await Promise.all(
    perWriter.map(async (list) => {
      for (const u of list) {
        await write(u);
        acks.set(`${u.id}:${u.rev}`, Date.now());
      }
    }),
  );
  return { ms: performance.now() - t0, acks };
}

async function resetRows(ds: DataSource): Promise<void> {
  await ds.query(`TRUNCATE "${TABLE}"`);
  await ds
    .getRepository(WbBenchRow)
    .insert(Array.from({ length: ROWS }, (_, id) => ({ id, name: 'init', qty: 0, rev: 0 })));
}

function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Results of the write-behind scenario. */
export interface WriteBehindResult {
  directSaveOps: number;
  directUpsertOps: number;
  writeBehindAckOps: number;
  writeBehindFlushedOps: number;
  ratioVsSave: number;
  ratioVsUpsert: number;
  lagP50Ms: number;
  lagP99Ms: number;
  /** Slowest and fastest round of the acknowledged write-behind throughput. */
  ackRange: [number, number];
}

/** Runs the scenario and prints its table. */
export async function runWriteBehind(): Promise<WriteBehindResult> {
  console.log(
    `\n=== Write-behind: ${UPDATES.toLocaleString('en')} updates over ${ROWS.toLocaleString('en')} rows, ` +
      `${WRITERS} writers, PostgreSQL (median of ${ROUNDS} rounds) ===`,
  );
  const redis = await startRedis();
  const client = new Redis(redis.url);
  const cache = new Cache({ prefix: 'wbbench', l2: new RedisStore({ client }) });
  const ck = cachekitTypeOrm(cache);
  const ds = new DataSource({
    type: 'postgres',
    url: DATABASE_URL,
    entities: [WbBenchRow],
    synchronize: true,
    subscribers: [ck.Subscriber],
    extra: { max: WRITERS },
  });
  // The direct contestants run on a DataSource without cachekit: nothing but TypeORM.
  const plain = new DataSource({
    type: 'postgres',
    url: DATABASE_URL,
    entities: [WbBenchRow],
    extra: { max: WRITERS },
  });
  await ds.initialize();
  await plain.initialize();
  const repo = ds.getRepository(WbBenchRow);
  const plainRepo = plain.getRepository(WbBenchRow);
  const perWriter = plan();
  const save: number[] = [];
  const upsert: number[] = [];
  const ack: number[] = [];
  const flushed: number[] = [];
  const lags: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await resetRows(ds);
      save.push((UPDATES / (await drive(perWriter, (u) => plainRepo.save(row(u)))).ms) * 1000);
      await resetRows(ds);
      upsert.push((UPDATES / (await drive(perWriter, (u) => plainRepo.upsert(row(u), ['id']))).ms) * 1000);

      await resetRows(ds);
      // Stamp every version the database applies, for the lag (write-behind arm only: the
      // trigger's cost counts against write-behind, never for it).
      await ds.query(`CREATE TABLE IF NOT EXISTS "${TABLE}_applied" (id int, rev int, at timestamptz)`);
      await ds.query(`TRUNCATE "${TABLE}_applied"`);
      await ds.query(
        `CREATE OR REPLACE FUNCTION "${TABLE}_stamp"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
          `INSERT INTO "${TABLE}_applied" VALUES (NEW.id, NEW.rev, clock_timestamp()); RETURN NEW; END $$`,
      );
      await ds.query(
        `CREATE TRIGGER "${TABLE}_stamp_tg" AFTER UPDATE ON "${TABLE}" FOR EACH ROW EXECUTE FUNCTION "${TABLE}_stamp"()`,
      );
      const queue = new RedisStreamQueue({ client, name: `wbbench-${process.pid}-${round}` });
      const wb = startWriteBehind(ds, cache, { queue });
      const cached = ck.repository(repo);
      const t0 = performance.now();
      const r = await drive(perWriter, (u) => cached.save(row(u)));
      await wb.flush('2m');
      const total = performance.now() - t0;
      await wb.close();
      await ds.query(`DROP TRIGGER "${TABLE}_stamp_tg" ON "${TABLE}"`);
      ack.push((UPDATES / r.ms) * 1000);
      flushed.push((UPDATES / total) * 1000);

      // Correctness of the run: the database ends with every row's last update.
      const last = new Map<number, number>();
      for (const list of perWriter)
        for (const u of list) last.set(u.id, Math.max(last.get(u.id) ?? 0, u.rev));
      const rows = await repo.find();
      const wrong = rows.filter((x) => x.rev !== (last.get(x.id) ?? 0));
      if (wrong.length > 0)
        throw new Error(`write-behind round ${round}: ${wrong.length} rows not at their last update`);

      // Lag: ack of (id, rev) → first applied version of id with rev' >= rev.
      const applied: { id: number; rev: number; at: Date }[] = await ds.query(
        `SELECT id, rev, at FROM "${TABLE}_applied" ORDER BY at`,
      );
      const byId = new Map<number, { rev: number; at: number }[]>();
      for (const a of applied) {
        let l = byId.get(a.id);
        if (l === undefined) byId.set(a.id, (l = []));
        l.push({ rev: a.rev, at: new Date(a.at).getTime() });
      }
      for (const [k, at] of r.acks) {
        const [id, rev] = k.split(':').map(Number);
        const hit = byId.get(id)?.find((a) => a.rev >= rev);
        if (hit === undefined) throw new Error(`update ${k} never reached the database`);
        lags.push(Math.max(0, hit.at - at));
      }
      await redis_del(client, queue);
    }
  } finally {
    await ds.query(`DROP TABLE IF EXISTS "${TABLE}_applied"`).catch(() => {});
    await ds.query(`DROP FUNCTION IF EXISTS "${TABLE}_stamp"() CASCADE`).catch(() => {});
    await ds.query(`DROP TABLE IF EXISTS "${TABLE}"`).catch(() => {});
    await ds.destroy();
    await plain.destroy();
    await cache.close();
    client.disconnect();
    await redis.stop();
  }
  lags.sort((a, b) => a - b);
  const result: WriteBehindResult = {
    directSaveOps: median(save),
    directUpsertOps: median(upsert),
    writeBehindAckOps: median(ack),
    writeBehindFlushedOps: median(flushed),
    ratioVsSave: median(ack) / median(save),
    ratioVsUpsert: median(ack) / median(upsert),
    lagP50Ms: pct(lags, 0.5),
    lagP99Ms: pct(lags, 0.99),
    ackRange: [Math.min(...ack), Math.max(...ack)],
  };
  const range = (xs: number[]) => `${fmtOps(Math.min(...xs))}–${fmtOps(Math.max(...xs))}`;
  printTable(
    ['contestant', ' updates/s', ' range', ' vs repository.save'],
    [
      ['repository.save per update', fmtOps(result.directSaveOps), range(save), fmtRatio(1)],
      [
        'repository.upsert per update',
        fmtOps(result.directUpsertOps),
        range(upsert),
        fmtRatio(result.directUpsertOps / result.directSaveOps),
      ],
      [
        'write-behind save (acknowledged)',
        fmtOps(result.writeBehindAckOps),
        range(ack),
        fmtRatio(result.ratioVsSave),
      ],
      [
        'write-behind, until flushed to PG',
        fmtOps(result.writeBehindFlushedOps),
        range(flushed),
        fmtRatio(result.writeBehindFlushedOps / result.directSaveOps),
      ],
    ],
  );
  console.log(
    `flush lag (ack → row in PostgreSQL), ${lags.length.toLocaleString('en')} updates: ` +
      `p50 ${result.lagP50Ms.toFixed(0)} ms, p99 ${result.lagP99Ms.toFixed(0)} ms`,
  );
  console.log(
    `target: write-behind ≥ 10× repository.save → ${fmtRatio(result.ratioVsSave)} ` +
      `(${result.ratioVsSave >= 10 ? 'PASS' : 'MISS'}); vs upsert ${fmtRatio(result.ratioVsUpsert)}`,
  );
  return result;
}

/** Removes one round's stream keys (the private server is thrown away anyway). */
async function redis_del(client: Redis, queue: RedisStreamQueue): Promise<void> {
  await client.del(...queue.fixedKeys());
}

if (require.main === module) {
  runWriteBehind().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
