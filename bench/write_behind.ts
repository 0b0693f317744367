/**
 * Scenario "write-behind vs direct saves": 10,000 updates spread over 1,000 rows of a
 * PostgreSQL table, 16 concurrent writers, side by side:
 *
 *   - direct `repository.save` per update (TypeORM: SELECT, then UPDATE in a transaction);
 *   - direct `repository.upsert` per update (one statement: the strongest direct baseline);
 *   - `cachedRepository.save` of a write-behind entity, on a RedisStreamQueue: a save
 *     resolves once Redis holds the write; the flusher persists in batches;
 *   - the same with the flusher in a worker process (`flusher: false` here, a second node
 *     process flushing the queue: bench/write_behind_worker.ts), the deployment that keeps
 *     database batches off the request path. It runs on the same machine, so its CPU still
 *     competes with the saves;
 *   - for information, the saves alone: no flusher runs while they are made (the worker flushes
 *     once every save is acknowledged), which is what the acknowledgment path can take;
 *   - for information, the in-process arm with `batchSize: SMALL_BATCH` instead of the default
 *     2,000: what the knob trades (see SMALL_BATCH).
 *
 * Throughput counts acknowledged updates per second; for write-behind it is also shown up to
 * the end of the flush (every update in the database). The flush lag is measured outside the
 * code under test: a trigger stamps every row version the database applies, and each update's
 * lag is the time from its acknowledgment to the first applied version that includes it. The
 * trigger doubles the database's work per applied row, so the lag is measured in one extra
 * round per write-behind arm, and the throughput rounds run without it, as the direct ones do.
 *
 * Runs against the shared PostgreSQL (its own `wb_bench_*` table, dropped at the end) and a
 * private, throw-away redis-server. Alone: `npx ts-node --transpile-only bench/write_behind.ts`.
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { DataSource, type Repository } from 'typeorm';
import { Cache } from '../src';
import { RedisStore, RedisStreamQueue } from '../src/redis';
import { cachekitTypeOrm, startWriteBehind, type CachekitTypeOrm } from '../src/typeorm';
import { fmtOps, fmtRatio, printTable, sized, startRedis } from './support';
import { benchRowEntity, type BenchRow } from './write_behind_row';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TABLE = `wb_bench_row_${process.pid}`;
const ROWS = sized(1000, 64);
const UPDATES = sized(10_000, 200);
const WRITERS = 16;
const ROUNDS = sized(3, 1);
/**
 * Untimed rounds first, every contestant alike. A round is 10,000 updates per contestant, about
 * a second of write-behind, and the code compiles as it runs: in a profiling run of the
 * in-process arm alone (2-core machine), successive rounds of 10,000 saves went 5.8k, 8.3k, 9.4k,
 * 10.4k, 10.7k, 10.8k per second. A bench round runs four write-behind arms, so two untimed
 * rounds (80,000 saves) reach that plateau; the direct contestants' rounds last several
 * seconds each and are warm well within one.
 */
const WARMUP_ROUNDS = sized(2, 0);

/**
 * The batch size of the informational arm (the default was 500 until 2026-11-29). A batch is due
 * once that many distinct rows are held or at the 100 ms deadline. With 500, at ~30k updates/s
 * over 1,000 rows a batch went every ~700 updates (~1.4 per row written); with the default
 * 2,000 the deadline closes each batch and a row's updates of those 100 ms become one database
 * write (~3–4 per row): less work for the flusher, the database and Redis, at the price of the
 * lag (the lag rounds show both).
 */
const SMALL_BATCH = 500;

const PREFIX = 'wbbench';
const WbBenchRow = benchRowEntity(TABLE);

/** One update: its row and the row's revision (rows are split among writers, so revisions are in order). */
interface Update {
  id: number;
  rev: number;
  /** Its place in the plan: where its acknowledgment time goes in a lag round. */
  seq: number;
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
    perWriter[w].push({ id, rev: ++revs[id], seq: i });
  }
  return perWriter;
}

const row = (u: Update) => ({ id: u.id, name: `row-${u.id}-${u.rev}`, qty: u.rev * 3, rev: u.rev });

/**
 * Runs the plan with one writer per list; resolves to the wall time. With `acks`, each update's
 * acknowledgment time goes to `acks[u.seq]`. Only the lag rounds ask: a map of "id:rev" strings
 * filled in the timed loop cost the write-behind arms 2–4 µs of their ~25 µs per update
 * (alternating profiling runs), bookkeeping the direct arms hardly notice at ~300 µs.
 */
async function drive(
  perWriter: Update[][],
  write: (u: Update) => Promise<unknown>,
  acks?: Float64Array,
): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    perWriter.map(async (list) => {
      for (const u of list) {
        await write(u);
        if (acks !== undefined) acks[u.seq] = Date.now();
      }
    }),
  );
  return performance.now() - t0;
}

/**
 * Puts every row back to its initial state, through `plain` (the DataSource without cachekit):
 * through the plugin's, the 1,000 rows' invalidations ran on after the insert returned, into
 * the timed round that followed. The rounds only write, so what the cache holds of earlier
 * rounds is only ever overwritten.
 */
async function resetRows(plain: DataSource): Promise<void> {
  await plain.query(`TRUNCATE "${TABLE}"`);
  await plain
    .getRepository(WbBenchRow)
    .insert(Array.from({ length: ROWS }, (_, id) => ({ id, name: 'init', qty: 0, rev: 0 })));
}

function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Updates per second of a round of `UPDATES` that took `ms`. */
const perSecond = (ms: number) => (UPDATES / ms) * 1000;

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
  /** The same with the flusher in a worker process (`flusher: false` in the saving process). */
  worker: { ackOps: number; flushedOps: number; ratioVsSave: number; lagP50Ms: number; lagP99Ms: number };
  /** Saves with no flusher running meanwhile (the worker flushes once they are all acknowledged). */
  savesAlone: { ackOps: number; ratioVsSave: number };
  /** The in-process arm with `batchSize: small.batchSize` (informational). */
  small: {
    batchSize: number;
    ackOps: number;
    flushedOps: number;
    ratioVsSave: number;
    lagP50Ms: number;
    lagP99Ms: number;
  };
}

/** What one write-behind round measured. */
interface ArmRound {
  ackOps: number;
  flushedOps: number;
  lags: number[];
}

/** The flusher worker of the "worker" arm: a second node process, started once (see write_behind_worker.ts). */
interface FlusherWorker {
  /** Runs its flusher on queue `name`. */
  start(name: string): Promise<void>;
  /** Closes that flusher, flushing what is left. */
  stop(): Promise<void>;
  /** Ends the process. */
  exit(): Promise<void>;
}

async function startWorker(env: Record<string, string>): Promise<FlusherWorker> {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', join(__dirname, 'write_behind_worker.ts')],
    { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Lines the worker printed, handed to whoever waits for one.
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += String(d);
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
    wake?.();
  });
  const expect = async (want: string) => {
    for (;;) {
      const line = lines.shift();
      if (line === want) return;
      if (line !== undefined) throw new Error(`the flusher worker said "${line}", not "${want}"`);
      const gone = await Promise.race([
        new Promise<false>((resolve) => (wake = () => resolve(false))),
        exited.then(() => true),
      ]);
      if (gone && lines.length === 0) throw new Error(`the flusher worker exited before "${want}"`);
    }
  };
  await expect('up');
  return {
    async start(name: string) {
      child.stdin!.write(`start ${name}\n`);
      await expect(`ready ${name}`);
    },
    async stop() {
      child.stdin!.write('stop\n');
      await expect('stopped');
    },
    async exit() {
      child.stdin!.end('exit\n');
      const code = await exited;
      if (code !== 0) throw new Error(`the flusher worker exited with ${code}`);
    },
  };
}

/** What every write-behind round runs against. */
interface RoundSetup {
  ds: DataSource;
  cache: Cache;
  ck: CachekitTypeOrm;
  client: Redis;
  /** The same database without cachekit. */
  plain: DataSource;
  /** The long-lived flusher process of the worker arm. */
  worker: FlusherWorker;
  perWriter: Update[][];
}

/**
 * Where a round's flusher runs: in this process, in the worker process, or in the worker only
 * once every save was acknowledged (what the saves alone cost; the flush is not timed then).
 */
type FlusherPlace = 'here' | 'worker' | 'after';

/**
 * One round of write-behind saves on queue `name`: throughput up to the last acknowledgment and
 * up to the end of the flush. `stampLag`: each update's lag is measured too (see the file's
 * comment).
 */
async function writeBehindRound(
  setup: RoundSetup,
  name: string,
  { flusher, stampLag, batchSize }: { flusher: FlusherPlace; stampLag: boolean; batchSize?: number },
): Promise<ArmRound> {
  const { ds, cache, ck, client, perWriter } = setup;
  const repo: Repository<BenchRow> = ds.getRepository(WbBenchRow);
  await resetRows(setup.plain);
  if (stampLag) {
    // Stamp every version the database applies, for the lag. Only in the lag rounds: the
    // trigger doubles the database's work per row, which the direct contestants do not pay.
    await ds.query(`CREATE TABLE IF NOT EXISTS "${TABLE}_applied" (id int, rev int, at timestamptz)`);
    await ds.query(`TRUNCATE "${TABLE}_applied"`);
    await ds.query(
      `CREATE OR REPLACE FUNCTION "${TABLE}_stamp"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
        `INSERT INTO "${TABLE}_applied" VALUES (NEW.id, NEW.rev, clock_timestamp()); RETURN NEW; END $$`,
    );
    await ds.query(
      `CREATE TRIGGER "${TABLE}_stamp_tg" AFTER UPDATE ON "${TABLE}" FOR EACH ROW EXECUTE FUNCTION "${TABLE}_stamp"()`,
    );
  }
  if (flusher === 'worker') await setup.worker.start(name);
  const queue = new RedisStreamQueue({ client, name });
  const wb = startWriteBehind(ds, cache, { queue, flusher: flusher === 'here', batchSize });
  const cached = ck.repository(repo);
  const t0 = performance.now();
  const acks = stampLag ? new Float64Array(UPDATES) : undefined;
  const ms = await drive(perWriter, (u) => cached.save(row(u)), acks);
  if (flusher === 'after') await setup.worker.start(name);
  await wb.flush('2m');
  const total = performance.now() - t0;
  await wb.close();
  if (flusher !== 'here') await setup.worker.stop();
  if (stampLag) await ds.query(`DROP TRIGGER "${TABLE}_stamp_tg" ON "${TABLE}"`);

  // Correctness of the run: the database ends with every row's last update.
  const last = new Map<number, number>();
  for (const list of perWriter) for (const u of list) last.set(u.id, Math.max(last.get(u.id) ?? 0, u.rev));
  const rows = await repo.find();
  const wrong = rows.filter((x) => x.rev !== (last.get(x.id) ?? 0));
  if (wrong.length > 0)
    throw new Error(`write-behind ${name}: ${wrong.length} rows not at their last update`);

  if (!stampLag) {
    await redis_del(client, queue);
    return { ackOps: perSecond(ms), flushedOps: perSecond(total), lags: [] };
  }
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
  const lags: number[] = [];
  for (const list of perWriter) {
    for (const { id, rev, seq } of list) {
      const hit = byId.get(id)?.find((a) => a.rev >= rev);
      if (hit === undefined) throw new Error(`update ${id}:${rev} never reached the database`);
      lags.push(Math.max(0, hit.at - acks![seq]));
    }
  }
  await redis_del(client, queue);
  return { ackOps: perSecond(ms), flushedOps: perSecond(total), lags };
}

/** Runs the scenario and prints its table. */
export async function runWriteBehind(): Promise<WriteBehindResult> {
  console.log(
    `\n=== Write-behind: ${UPDATES.toLocaleString('en')} updates over ${ROWS.toLocaleString('en')} rows, ` +
      `${WRITERS} writers, PostgreSQL (median of ${ROUNDS} rounds after ${WARMUP_ROUNDS} untimed) ===`,
  );
  const redis = await startRedis();
  const client = new Redis(redis.url);
  const cache = new Cache({ prefix: PREFIX, l2: new RedisStore({ client }) });
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
  const plainRepo = plain.getRepository(WbBenchRow);
  const perWriter = plan();
  // One flusher process for every worker round, as a deployment's worker lives on: a fresh one
  // per round spent its first thousands of rows compiling, on the cores the saves run on.
  const worker = await startWorker({
    WB_TABLE: TABLE,
    WB_PREFIX: PREFIX,
    WB_REDIS_URL: redis.url,
    DATABASE_URL,
  });
  const setup: RoundSetup = { ds, plain, cache, ck, client, worker, perWriter };
  const save: number[] = [];
  const upsert: number[] = [];
  const inProcess: ArmRound[] = [];
  const inWorker: ArmRound[] = [];
  const savesAlone: ArmRound[] = [];
  const small: ArmRound[] = [];
  const lagRounds: ArmRound[] = [];
  try {
    for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
      // Warm-up rounds (round < 0) measure into lists nobody reads.
      const keep = <T>(list: T[]) => (round < 0 ? [] : list);
      await resetRows(plain);
      keep(save).push(perSecond(await drive(perWriter, (u) => plainRepo.save(row(u)))));
      await resetRows(plain);
      keep(upsert).push(perSecond(await drive(perWriter, (u) => plainRepo.upsert(row(u), ['id']))));
      const base = `wbbench-${process.pid}-${round < 0 ? `warm${-round}` : round}`;
      // The write-behind arms take turns at going first, right after the direct contestants: with
      // batches of 500 rows the in-process arm measured 23.7k and 27.7k updates/s in two runs
      // where it always went first, 31.9k and 31.3k in two where another arm went before it. A
      // fixed order would tax one arm for its place.
      const arms: (() => Promise<void>)[] = [
        async () => {
          keep(inProcess).push(await writeBehindRound(setup, base, { flusher: 'here', stampLag: false }));
        },
        async () => {
          keep(inWorker).push(
            await writeBehindRound(setup, `${base}w`, { flusher: 'worker', stampLag: false }),
          );
        },
        async () => {
          keep(savesAlone).push(
            await writeBehindRound(setup, `${base}a`, { flusher: 'after', stampLag: false }),
          );
        },
        async () => {
          keep(small).push(
            await writeBehindRound(setup, `${base}t`, {
              flusher: 'here',
              stampLag: false,
              batchSize: SMALL_BATCH,
            }),
          );
        },
      ];
      const first = (round + WARMUP_ROUNDS) % arms.length;
      for (let k = 0; k < arms.length; k++) await arms[(first + k) % arms.length]();
    }
    // The lag, in rounds of their own (see writeBehindRound).
    const base = `wbbench-${process.pid}-lag`;
    lagRounds.push(await writeBehindRound(setup, base, { flusher: 'here', stampLag: true }));
    lagRounds.push(await writeBehindRound(setup, `${base}w`, { flusher: 'worker', stampLag: true }));
    lagRounds.push(
      await writeBehindRound(setup, `${base}t`, { flusher: 'here', stampLag: true, batchSize: SMALL_BATCH }),
    );
  } finally {
    await worker.exit().catch((err: unknown) => console.error(err));
    await ds.query(`DROP TABLE IF EXISTS "${TABLE}_applied"`).catch(() => {});
    await ds.query(`DROP FUNCTION IF EXISTS "${TABLE}_stamp"() CASCADE`).catch(() => {});
    await ds.query(`DROP TABLE IF EXISTS "${TABLE}"`).catch(() => {});
    await ds.destroy();
    await plain.destroy();
    await cache.close();
    client.disconnect();
    await redis.stop();
  }
  const ack = inProcess.map((r) => r.ackOps);
  const flushed = inProcess.map((r) => r.flushedOps);
  const lags = [...lagRounds[0].lags].sort((a, b) => a - b);
  const wAck = inWorker.map((r) => r.ackOps);
  const wFlushed = inWorker.map((r) => r.flushedOps);
  const wLags = [...lagRounds[1].lags].sort((a, b) => a - b);
  const alone = savesAlone.map((r) => r.ackOps);
  const sAck = small.map((r) => r.ackOps);
  const sLags = [...lagRounds[2].lags].sort((a, b) => a - b);
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
    worker: {
      ackOps: median(wAck),
      flushedOps: median(wFlushed),
      ratioVsSave: median(wAck) / median(save),
      lagP50Ms: pct(wLags, 0.5),
      lagP99Ms: pct(wLags, 0.99),
    },
    savesAlone: { ackOps: median(alone), ratioVsSave: median(alone) / median(save) },
    small: {
      batchSize: SMALL_BATCH,
      ackOps: median(sAck),
      flushedOps: median(small.map((r) => r.flushedOps)),
      ratioVsSave: median(sAck) / median(save),
      lagP50Ms: pct(sLags, 0.5),
      lagP99Ms: pct(sLags, 0.99),
    },
  };
  const range = (xs: number[]) => `${fmtOps(Math.min(...xs))}–${fmtOps(Math.max(...xs))}`;
  const ratio = (ops: number) => fmtRatio(ops / result.directSaveOps);
  printTable(
    ['contestant', ' updates/s', ' range', ' vs repository.save'],
    [
      ['repository.save per update', fmtOps(result.directSaveOps), range(save), fmtRatio(1)],
      [
        'repository.upsert per update',
        fmtOps(result.directUpsertOps),
        range(upsert),
        ratio(result.directUpsertOps),
      ],
      [
        'write-behind save (acknowledged)',
        fmtOps(result.writeBehindAckOps),
        range(ack),
        ratio(result.writeBehindAckOps),
      ],
      [
        'write-behind, until flushed to PG',
        fmtOps(result.writeBehindFlushedOps),
        range(flushed),
        ratio(result.writeBehindFlushedOps),
      ],
      [
        'write-behind save, flusher in a worker process',
        fmtOps(result.worker.ackOps),
        range(wAck),
        ratio(result.worker.ackOps),
      ],
      [
        'write-behind, worker process, until flushed',
        fmtOps(result.worker.flushedOps),
        range(wFlushed),
        ratio(result.worker.flushedOps),
      ],
      [
        'write-behind saves alone, no flusher meanwhile (info)',
        fmtOps(result.savesAlone.ackOps),
        range(alone),
        ratio(result.savesAlone.ackOps),
      ],
      [
        `write-behind save, batchSize ${SMALL_BATCH.toLocaleString('en')} (info)`,
        fmtOps(result.small.ackOps),
        range(sAck),
        ratio(result.small.ackOps),
      ],
    ],
  );
  console.log(
    `flush lag (ack → row in PostgreSQL; a round of its own, with a stamping trigger: ` +
      `${fmtOps(lagRounds[0].ackOps)} updates/s there), ${lags.length.toLocaleString('en')} updates: ` +
      `p50 ${result.lagP50Ms.toFixed(0)} ms, p99 ${result.lagP99Ms.toFixed(0)} ms; ` +
      `flusher in a worker process: p50 ${result.worker.lagP50Ms.toFixed(0)} ms, p99 ${result.worker.lagP99Ms.toFixed(0)} ms; ` +
      `batchSize ${SMALL_BATCH.toLocaleString('en')}: p50 ${result.small.lagP50Ms.toFixed(0)} ms, p99 ${result.small.lagP99Ms.toFixed(0)} ms`,
  );
  console.log(
    `target: write-behind ≥ 10× repository.save → ${fmtRatio(result.ratioVsSave)} ` +
      `(${result.ratioVsSave >= 10 ? 'PASS' : 'MISS'}); vs upsert ${fmtRatio(result.ratioVsUpsert)}; ` +
      `flusher in a worker process ${fmtRatio(result.worker.ratioVsSave)}`,
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
