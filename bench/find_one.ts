/**
 * Scenario "findOne by primary key on PostgreSQL" (issue 4): 10,000 rows, 16 concurrent callers,
 * `repo.findOne({ where: { id } })` uncached, through TypeORM's own ioredis query cache, and
 * through cachekit's query-cache provider (Redis only, then with L1). Each contestant then runs
 * 20 save-then-read rounds, and the reads that return the value from before the save are counted.
 * Informational rows (never ranked): a Map as query cache, the ceiling of any provider since
 * TypeORM builds the SQL and hydrates the row on every hit; cachekit with `maxKeyLength` raised
 * above the length of TypeORM's key; and cachekit's entity cache by id, which builds no SQL on a hit.
 *
 * Every contestant has its own DataSource on one table; all use one private, throw-away
 * redis-server (never the shared one). The table is created for the run and dropped at the end.
 *
 * Run alone with `npx ts-node --transpile-only bench/find_one.ts`, or with the others via
 * `npm run bench`.
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { Column, DataSource, Entity, type Logger, PrimaryColumn, type Repository } from 'typeorm';
import { Cache } from '../src';
import { RedisStore } from '../src/redis';
import type { QueryResultCache } from 'typeorm/cache/QueryResultCache.js';
import type { QueryResultCacheOptions } from 'typeorm/cache/QueryResultCacheOptions.js';
import { cachekitTypeOrm } from '../src/typeorm';
import {
  type CommandCounter,
  type ConcurrentResult,
  countClientCommands,
  fmtMs,
  fmtOps,
  fmtRatio,
  keySequence,
  printTable,
  runConcurrent,
  serverCommandDelta,
  serverCommandTotal,
  serverCpuSeconds,
  startRedis,
  sized,
} from './support';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
// Unique to this benchmark and to this process: others share the database `test`.
const TABLE = `bench_find_one_product_${process.pid}`;
const ROWS = sized(10_000, 200);
const WORKERS = 16;
/** Wall time a timed pass aims at; the calls per pass are sized from the warm-up rate. */
const PASS_MS = sized(1_500, 100);
/**
 * Four shorter passes rather than two long ones: on the shared 2-core VM a contestant's two
 * passes differed by up to 40%, and the ratio against the built-in flipped with them.
 */
const PASSES = sized(4, 1);
const WARMUP_MS = sized(600, 50);
/** Longest fixed sequence a pass can use: a bound on calls per pass, whatever the rate. */
const SEQUENCE_LENGTH = sized(400_000, 20_000);
const STALE_ROUNDS = sized(20, 2);
/**
 * Cache duration of every cached read. Ten minutes rather than one: the first contestant's
 * entries are filled about a minute before the last pass ends, and must not expire within it.
 */
const DURATION_MS = 600_000;

// One fixed pseudo-random walk over the ids, the same for every contestant.
const SEQUENCE = keySequence(SEQUENCE_LENGTH, ROWS);
const WARM_SEQUENCE = keySequence(SEQUENCE_LENGTH, ROWS, 12345);

@Entity({ name: TABLE })
class BenchProduct {
  @PrimaryColumn('int')
  id!: number;
  @Column('varchar')
  name!: string;
  /** In cents. */
  @Column('int')
  price!: number;
  @Column('varchar')
  sku!: string;
  @Column('text')
  description!: string;
  @Column('timestamptz')
  createdAt!: Date;
}

/** Counts the SQL statements a DataSource sends: a cached read that reaches PostgreSQL is a miss. */
class QueryCounter implements Logger {
  queries = 0;
  logQuery(): void {
    this.queries++;
  }
  logQueryError(error: string | Error, query: string): void {
    console.error('query failed:', error, query.slice(0, 200));
  }
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') console.warn(message);
  }
}

type Kind = 'baseline' | 'builtin' | 'redis' | 'l1' | 'info';

interface Handle {
  /** One read of row `id` through the contestant. */
  read(id: number): Promise<BenchProduct | null>;
  /** The repository writes go through: the contestant's own DataSource. */
  repo: Repository<BenchProduct>;
  queries: QueryCounter;
  /** The ioredis client the contestant's cache talks through, for client-side command counting. */
  ioredis?: Redis;
  /** cachekit's own counters, when the contestant is cachekit. */
  cache?: Cache;
  close(): Promise<void>;
}

interface Contestant {
  name: string;
  kind: Kind;
  config: string;
  setup(redisPort: number): Promise<Handle>;
}

async function openDataSource(
  queries: QueryCounter,
  extra: { subscribers?: (new () => unknown)[]; cache?: object; poolSize?: number } = {},
): Promise<DataSource> {
  const ds = new DataSource({
    type: 'postgres',
    url: DATABASE_URL,
    entities: [BenchProduct],
    synchronize: false,
    logger: queries,
    poolSize: extra.poolSize ?? 4,
    subscribers: extra.subscribers ?? [],
    ...(extra.cache ? { cache: extra.cache } : {}),
  });
  await ds.initialize();
  return ds;
}

async function quietQuit(c: Redis): Promise<void> {
  try {
    await c.quit();
  } catch {
    c.disconnect();
  }
}

const byId = (id: number) => ({ where: { id } });
const byIdCached = (id: number) => ({ where: { id }, cache: DURATION_MS });

/**
 * cachekit's query-cache provider (and invalidation subscriber) on a fresh DataSource. With
 * `maxKeyLength`, an informational variant: TypeORM's key (the whole SQL) is longer than the
 * default 200 characters, so cachekit hashes it on every call unless the limit is raised.
 */
function cachekitQueryCache(name: string, withL1: boolean, maxKeyLength?: number): Contestant {
  const keyOption = maxKeyLength === undefined ? '' : `, maxKeyLength: ${maxKeyLength}`;
  return {
    name,
    // With L1 the provider is capped by TypeORM's own per-call work (see the Map ceiling row):
    // the L1 target is carried by the repository row, which has the same findOne call shape.
    kind: maxKeyLength !== undefined || withL1 ? 'info' : 'redis',
    config:
      `new Cache({ ${withL1 ? '' : 'l1: false, '}l2: new RedisStore({ client })${keyOption} })${withL1 ? ' (default L1: 10,000 entries)' : ''}; ` +
      'DataSource { subscribers: [ck.Subscriber], cache: { provider: ck.provider } }; ' +
      `repo.findOne({ where: { id }, cache: ${DURATION_MS} })`,
    async setup(port) {
      const io = new Redis({ host: '127.0.0.1', port });
      const cache = new Cache({
        prefix: `fo-${withL1 ? 'l1' : 'r'}${maxKeyLength === undefined ? '' : '-long'}`,
        ...(withL1 ? {} : { l1: false as const }),
        l2: new RedisStore({ client: io }),
        ...(maxKeyLength === undefined ? {} : { maxKeyLength }),
      });
      const ck = cachekitTypeOrm(cache, { onError: (e) => console.error('invalidation failed', e) });
      const queries = new QueryCounter();
      const ds = await openDataSource(queries, {
        subscribers: [ck.Subscriber],
        cache: { provider: ck.provider },
      });
      const repo = ds.getRepository(BenchProduct);
      return {
        read: (id) => repo.findOne(byIdCached(id)),
        repo,
        queries,
        ioredis: io,
        cache,
        close: async () => {
          await ds.destroy();
          await cache.close();
          await quietQuit(io);
        },
      };
    },
  };
}

/**
 * cachekit's repository: by id (the entity cache, row-tagged) or by the same findOne options
 * (keyed by the options, dependencies captured): no query building at all on a hit.
 */
function cachekitById(name: string, withL1: boolean, byOptions = false): Contestant {
  return {
    name,
    kind: withL1 && byOptions ? 'l1' : 'info',
    config:
      `new Cache({ ${withL1 ? '' : 'l1: false, '}l2: new RedisStore({ client }) }); ` +
      (byOptions
        ? 'ck.repository(repo).findOne({ where: { id } }) — keyed by the options, tags captured'
        : 'ck.repository(repo).findOneById(id) — entity cache, row-tagged') +
      '; DataSource { subscribers: [ck.Subscriber] }',
    async setup(port) {
      const io = new Redis({ host: '127.0.0.1', port });
      const cache = new Cache({
        prefix: (withL1 ? 'fo-id-l1' : 'fo-id-r') + (byOptions ? '-o' : ''),
        ...(withL1 ? {} : { l1: false as const }),
        l2: new RedisStore({ client: io }),
      });
      const ck = cachekitTypeOrm(cache, { onError: (e) => console.error('invalidation failed', e) });
      const queries = new QueryCounter();
      const ds = await openDataSource(queries, { subscribers: [ck.Subscriber] });
      const repo = ds.getRepository(BenchProduct);
      const cached = ck.repository(repo);
      return {
        read: (id) => (byOptions ? cached.findOne({ where: { id } }) : cached.findOneById(id)),
        repo,
        queries,
        ioredis: io,
        cache,
        close: async () => {
          await ds.destroy();
          await cache.close();
          await quietQuit(io);
        },
      };
    },
  };
}

/**
 * The fastest query-result cache TypeORM can have: a Map in this process, no copy, no
 * invalidation. What a hit costs with it is TypeORM's own work around the cache (building the
 * SQL that is the key, parsing the stored rows, hydrating the entity): the ceiling for any provider.
 */
class MapQueryResultCache implements QueryResultCache {
  private readonly entries = new Map<string, QueryResultCacheOptions>();
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async synchronize(): Promise<void> {}
  async getFromCache(options: QueryResultCacheOptions): Promise<QueryResultCacheOptions | undefined> {
    return this.entries.get(options.identifier || options.query || '');
  }
  async storeInCache(options: QueryResultCacheOptions): Promise<void> {
    this.entries.set(options.identifier || options.query || '', options);
  }
  isExpired(saved: QueryResultCacheOptions): boolean {
    return (saved.time ?? 0) + saved.duration < Date.now();
  }
  async clear(): Promise<void> {
    this.entries.clear();
  }
  async remove(identifiers: string[]): Promise<void> {
    for (const id of identifiers) this.entries.delete(id);
  }
}

const contestants: Contestant[] = [
  {
    name: 'uncached findOne',
    kind: 'baseline',
    config: 'repo.findOne({ where: { id } }) — every call is a PostgreSQL query (pool of 10)',
    async setup() {
      const queries = new QueryCounter();
      const ds = await openDataSource(queries, { poolSize: 10 });
      const repo = ds.getRepository(BenchProduct);
      return { read: (id) => repo.findOne(byId(id)), repo, queries, close: () => ds.destroy() };
    },
  },
  {
    name: "TypeORM cache: { type: 'ioredis' }",
    kind: 'builtin',
    config:
      `DataSource { cache: { type: 'ioredis', options: { host, port }, duration: ${DURATION_MS} } }; ` +
      `repo.findOne({ where: { id }, cache: ${DURATION_MS} }) — TypeORM's own cache, never invalidated`,
    async setup(port) {
      const queries = new QueryCounter();
      const ds = await openDataSource(queries, {
        cache: { type: 'ioredis', options: { host: '127.0.0.1', port }, duration: DURATION_MS },
      });
      const repo = ds.getRepository(BenchProduct);
      // TypeORM keeps the client it made on its cache object.
      const io = (ds.queryResultCache as unknown as { client: Redis }).client;
      return {
        read: (id) => repo.findOne(byIdCached(id)),
        repo,
        queries,
        ioredis: io,
        close: () => ds.destroy(),
      };
    },
  },
  cachekitQueryCache('cachekit query cache, Redis only', false),
  cachekitQueryCache('cachekit query cache + L1', true),
  {
    name: 'TypeORM ceiling: a Map as query cache',
    kind: 'info',
    config:
      'DataSource { cache: { provider: () => new MapQueryResultCache() } } (bench-side: a Map, no copy, never ' +
      `invalidated); repo.findOne({ where: { id }, cache: ${DURATION_MS} }) — the most any query-cache provider can reach`,
    async setup() {
      const queries = new QueryCounter();
      const ds = await openDataSource(queries, { cache: { provider: () => new MapQueryResultCache() } });
      const repo = ds.getRepository(BenchProduct);
      return { read: (id) => repo.findOne(byIdCached(id)), repo, queries, close: () => ds.destroy() };
    },
  },
  cachekitQueryCache('cachekit query cache, Redis only, maxKeyLength 1024', false, 1024),
  cachekitById('cachekit findOneById, Redis only', false),
  cachekitById('cachekit findOneById + L1', true),
  cachekitById('cachekit repository findOne(options) + L1', true, true),
];

/** Creates the table and fills it in one statement. */
async function createTable(ds: DataSource): Promise<void> {
  await ds.query(`DROP TABLE IF EXISTS "${TABLE}"`);
  await ds.query(
    `CREATE TABLE "${TABLE}" (id integer PRIMARY KEY, name varchar NOT NULL, price integer NOT NULL, ` +
      `sku varchar NOT NULL, description text NOT NULL, "createdAt" timestamptz NOT NULL)`,
  );
  await ds.query(
    `INSERT INTO "${TABLE}" (id, name, price, sku, description, "createdAt") ` +
      `SELECT g, 'Ergonomic steel desk lamp, matte black #' || g, 4999 + g % 100, ` +
      `'LMP-' || lpad(g::text, 6, '0') || '-BLK', ` +
      `'An adjustable desk lamp with a weighted steel base, a warm-white LED head and a fabric cord. ' || ` +
      `'Dimmable in five steps; ships flat-packed with a two-year warranty, a spare diffuser and a wall bracket.', ` +
      `timestamptz '2024-01-01 00:00:00+00' + g * interval '1 day' ` +
      `FROM generate_series(1, ${ROWS}) AS g`,
  );
}

/** Only a row equal to the database's counts as a correct read. */
function sameRow(a: BenchProduct | null, b: { id: number; name: string; price: number }): boolean {
  return a !== null && a.id === b.id && a.name === b.name && a.price === b.price;
}

interface Measured {
  result: ConcurrentResult;
  clientCpuUs: number;
  serverCpuUs: number;
  serverCmds: number;
  clientCmds: number | undefined;
  byName: Map<string, number> | undefined;
  dbQueries: number;
  l1Hits: number;
  l2Hits: number;
}

async function measure(
  h: Handle,
  calls: number,
  admin: Redis,
  counter: CommandCounter | undefined,
): Promise<Measured> {
  counter?.reset();
  const q0 = h.queries.queries;
  const s0 = h.cache?.stats();
  const before = await serverCommandTotal(admin);
  const cpuBefore = await serverCpuSeconds(admin);
  const own = process.cpuUsage();
  const result = await runConcurrent(WORKERS, calls, (n) => h.read(SEQUENCE[n] + 1), PASS_MS * 4);
  const ownUsed = process.cpuUsage(own);
  const cpuAfter = await serverCpuSeconds(admin);
  const after = await serverCommandTotal(admin);
  const s1 = h.cache?.stats();
  return {
    result,
    clientCpuUs: ownUsed.user + ownUsed.system,
    serverCpuUs: (cpuAfter - cpuBefore) * 1e6,
    // The two INFO cpu readings inside the window are commands too.
    serverCmds: serverCommandDelta(before, after) - 2,
    clientCmds: counter?.count,
    byName: counter ? new Map(counter.byName) : undefined,
    dbQueries: h.queries.queries - q0,
    l1Hits: s0 && s1 ? s1.l1.hits - s0.l1.hits : 0,
    l2Hits: s0 && s1 ? s1.l2.hits - s0.l2.hits : 0,
  };
}

interface StaleResult {
  /** Second reads that returned the value from before the save. */
  stale: number;
  /** First reads answered without a query: the save really had a cached entry to outdate. */
  cachedBefore: number;
  rounds: number;
}

/**
 * Rounds of: read row X until it is cached, save a new name and price for it on the same
 * DataSource, read it again. A read after the save that does not show the saved value is stale.
 * Each contestant uses rows of its own, so no contestant writes a row another has cached.
 */
async function staleRounds(h: Handle, contestant: number): Promise<StaleResult> {
  let stale = 0;
  let cachedBefore = 0;
  for (let r = 0; r < STALE_ROUNDS; r++) {
    const id = 1 + contestant * STALE_ROUNDS + r;
    // The previous round's save may have dropped this entry (a table tag covers every query of
    // the table): the first read caches it again, the second shows that it is cached.
    await h.read(id);
    const q0 = h.queries.queries;
    const first = await h.read(id);
    if (h.queries.queries === q0) cachedBefore++;
    if (first === null) throw new Error(`row ${id} not found before the save`);
    const saved = { id, name: `${first.name} (saved in round ${r})`, price: 100_000 + contestant * 100 + r };
    await h.repo.save(saved);
    const second = await h.read(id);
    if (!sameRow(second, saved)) stale++;
  }
  return { stale, cachedBefore, rounds: STALE_ROUNDS };
}

export interface FindOneRow {
  name: string;
  kind: Kind;
  config: string;
  passes: ConcurrentResult[];
  best: ConcurrentResult;
  clientCpuUsPerCall: number;
  serverCpuUsPerCall: number;
  serverCmdsPerCall: number;
  clientCmdsPerCall: number | undefined;
  clientCommands: string;
  /** SQL statements sent during the timed passes: 0 means every timed call was a cache hit. */
  dbQueries: number;
  /** Share of the best pass's calls answered by L1, for cachekit. */
  l1Share: number | undefined;
  stale: StaleResult;
}

export interface FindOneResult {
  rows: FindOneRow[];
  /** cachekit query cache, Redis only ÷ TypeORM's built-in (target ≥ 1). */
  redisRatio: number;
  /** cachekit query cache with L1 ÷ TypeORM's built-in (target ≥ 10). */
  l1Ratio: number;
  /** cachekit's query-cache provider with L1 ÷ built-in (capped by TypeORM's per-call work). */
  providerL1Ratio: number;
  /** A Map as query-cache provider ÷ built-in: the most any provider can reach. */
  ceilingRatio: number;
  builtinStale: number;
  staleRounds: number;
  /** Stale reads of the cachekit rows (query cache and by-id), which must all be 0. */
  cachekitStale: number;
}

export async function runFindOne(): Promise<FindOneResult> {
  console.log(
    `\n=== findOne by primary key on PostgreSQL, ${WORKERS} concurrent callers over ${ROWS.toLocaleString('en')} rows ===`,
  );
  const redis = await startRedis();
  const admin = new Redis(redis.url);
  const setupQueries = new QueryCounter();
  let owner: DataSource | undefined;
  const handles: Handle[] = [];
  const started = performance.now();
  try {
    owner = await openDataSource(setupQueries, { poolSize: 1 });
    await createTable(owner);
    const ownerRepo = owner.getRepository(BenchProduct);
    const [sql, params] = ownerRepo
      .createQueryBuilder(ownerRepo.metadata.name)
      .setFindOptions({ where: { id: ROWS }, take: 1 })
      .getQueryAndParameters();
    // The key TypeORM hands every query cache: the SQL and its parameters.
    const keyLength = `${sql} -- PARAMETERS: ${JSON.stringify(params)}`.length;
    console.log(
      `table "${TABLE}" (${ROWS} rows, ~${JSON.stringify(await ownerRepo.findOneBy({ id: 1 })).length}-byte entity); ` +
        `private redis-server on port ${redis.port}, shared by all contestants (distinct keys).\n` +
        `TypeORM's query-cache key for one findOne is ${keyLength} characters (cachekit adds "typeorm:"; ` +
        'keys over maxKeyLength, default 200, are hashed).',
    );
    console.log(
      `Each contestant: its own DataSource; pre-fill reads all ${ROWS} ids (so the timed passes measure cache HITS), ` +
        `${WARMUP_MS} ms warm-up, then ${PASSES} timed passes of ~${PASS_MS / 1000} s over one fixed pseudo-random id ` +
        'sequence (contestants in table order on odd passes, in reverse on even ones); the best pass is shown.',
    );
    console.log(
      'node CPU = this process (user+sys) ÷ calls (it includes the pg driver for the uncached row); ' +
        'redis CPU = INFO cpu delta ÷ calls;\nsrv cmds = INFO total_commands_processed delta ÷ calls; ' +
        'cli cmds = commands written by the ioredis client (a script is one EVALSHA);\n' +
        'DB q = SQL statements sent during the timed passes (0: every timed call was a hit); ' +
        'L1 = share of calls answered by L1.\n',
    );

    for (let c = 0; c < contestants.length; c++) {
      const h = await contestants[c].setup(redis.port);
      handles.push(h);
      if (contestants[c].kind !== 'baseline') {
        // Pre-fill: every id once, 16 callers at a time.
        await runConcurrent(WORKERS, ROWS, (n) => h.read(n + 1), 120_000);
      }
      for (const id of [1, 77, ROWS]) {
        const v = await h.read(id);
        if (v?.id !== id || !(v instanceof BenchProduct) || !(v.createdAt instanceof Date)) {
          throw new Error(`${contestants[c].name}: id ${id} returned ${JSON.stringify(v)?.slice(0, 120)}`);
        }
      }
    }
    console.log(`set-up and pre-fill: ${((performance.now() - started) / 1000).toFixed(1)} s`);

    // Warm-up sizes each contestant's passes: about PASS_MS at the rate it reached.
    const calls: number[] = [];
    for (const h of handles) {
      const w = await runConcurrent(WORKERS, SEQUENCE_LENGTH, (n) => h.read(WARM_SEQUENCE[n] + 1), WARMUP_MS);
      calls.push(Math.max(2_000, Math.min(SEQUENCE_LENGTH, Math.round((w.opsPerSec * PASS_MS) / 1000))));
    }

    const counters = handles.map((h) => (h.ioredis ? countClientCommands(h.ioredis) : undefined));
    const measured: Measured[][] = contestants.map(() => []);
    for (let pass = 0; pass < PASSES; pass++) {
      const order = contestants.map((_, i) => i);
      if (pass % 2 === 1) order.reverse();
      for (const i of order) measured[i].push(await measure(handles[i], calls[i], admin, counters[i]));
    }
    counters.forEach((c) => c?.restore());

    const stale: StaleResult[] = [];
    for (let c = 0; c < handles.length; c++) stale.push(await staleRounds(handles[c], c));

    const rows: FindOneRow[] = contestants.map((c, i) => {
      const ms = measured[i];
      const best = ms.reduce((a, b) => (b.result.opsPerSec > a.result.opsPerSec ? b : a));
      const n = best.result.calls;
      return {
        name: c.name,
        kind: c.kind,
        config: c.config,
        passes: ms.map((m) => m.result),
        best: best.result,
        clientCpuUsPerCall: best.clientCpuUs / n,
        serverCpuUsPerCall: best.serverCpuUs / n,
        serverCmdsPerCall: best.serverCmds / n,
        clientCmdsPerCall: best.clientCmds === undefined ? undefined : best.clientCmds / n,
        clientCommands: best.byName
          ? [...best.byName]
              .sort((a, b) => b[1] - a[1])
              .map(([name, k]) => `${name} ${(k / n).toFixed(2)}`)
              .join(', ')
          : '',
        dbQueries: ms.reduce((s, m) => s + m.dbQueries, 0),
        l1Share: handles[i].cache ? best.l1Hits / n : undefined,
        stale: stale[i],
      };
    });

    const builtin = rows.find((r) => r.kind === 'builtin')!;
    const ratioOf = (r: FindOneRow) => r.best.opsPerSec / builtin.best.opsPerSec;
    printTable(
      [
        'contestant',
        ' ops/s',
        ' passes: slowest–fastest',
        ' ÷ built-in',
        ' p50',
        ' p99',
        ' node CPU µs/call',
        ' redis CPU µs/call',
        ' srv cmds/call',
        ' cli cmds/call',
        ' DB q',
        ' L1',
        ' stale',
        'client commands per call',
      ],
      rows.map((r) => [
        r.name + (r.kind === 'info' ? ' (info)' : ''),
        fmtOps(r.best.opsPerSec) + (r.best.capped ? ' (capped)' : ''),
        `${fmtOps(Math.min(...r.passes.map((p) => p.opsPerSec)))}–${fmtOps(Math.max(...r.passes.map((p) => p.opsPerSec)))}`,
        fmtRatio(ratioOf(r)),
        fmtMs(r.best.p50Ms),
        fmtMs(r.best.p99Ms),
        r.clientCpuUsPerCall.toFixed(1),
        r.kind === 'baseline' ? '-' : r.serverCpuUsPerCall.toFixed(1),
        r.kind === 'baseline' ? '-' : r.serverCmdsPerCall.toFixed(2),
        r.clientCmdsPerCall === undefined ? '-' : r.clientCmdsPerCall.toFixed(2),
        String(r.dbQueries),
        r.l1Share === undefined ? '-' : `${(r.l1Share * 100).toFixed(0)}%`,
        `${r.stale.stale}/${r.stale.rounds}`,
        r.clientCommands,
      ]),
    );
    console.log(
      `\nstale = reads after a save that still returned the old row, over ${STALE_ROUNDS} save-then-read rounds ` +
        '(first read of each round served from cache: ' +
        rows.map((r) => `${r.name} ${r.stale.cachedBefore}/${r.stale.rounds}`).join('; ') +
        ').',
    );
    console.log('\nConfigurations:');
    for (const r of rows) console.log(`  ${r.name}: ${r.config}`);

    const redisOnly = rows.find((r) => r.kind === 'redis')!;
    const l1 = rows.find((r) => r.kind === 'l1')!;
    const redisRatio = ratioOf(redisOnly);
    const l1Ratio = ratioOf(l1);
    const cachekitStale = rows
      .filter((r) => r.name.startsWith('cachekit'))
      .reduce((s, r) => s + r.stale.stale, 0);
    console.log(`\nRedis-only ÷ built-in: ${fmtRatio(redisRatio)} (target ≥ 1×)`);
    console.log(`cachekit with L1 (${l1.name}) ÷ built-in: ${fmtRatio(l1Ratio)} (target ≥ 10×)`);
    const ceiling = rows.find((r) => r.name.startsWith('TypeORM ceiling'))!;
    const providerL1 = rows.find((r) => r.name === 'cachekit query cache + L1')!;
    console.log(
      `Query-cache provider + L1 ÷ built-in: ${fmtRatio(ratioOf(providerL1))}, against a ceiling for any provider ` +
        `(a Map, no copy, no invalidation: TypeORM still builds the SQL and hydrates per call) of ${fmtRatio(ratioOf(ceiling))}; ` +
        `findOneById + L1 ÷ built-in: ${fmtRatio(ratioOf(rows.find((r) => r.name === 'cachekit findOneById + L1')!))}`,
    );
    console.log(
      `Stale reads after ${STALE_ROUNDS} save-then-read rounds: built-in ${builtin.stale.stale}, ` +
        `cachekit Redis-only ${redisOnly.stale.stale}, cachekit + L1 ${l1.stale.stale}; info rows ` +
        rows
          .filter((r) => r.kind === 'info')
          .map((r) => `${r.stale.stale}`)
          .join(', ') +
        ` — target 0 for cachekit, the built-in expected at ${STALE_ROUNDS}`,
    );
    console.log(`scenario time ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return {
      rows,
      redisRatio,
      l1Ratio,
      providerL1Ratio: ratioOf(providerL1),
      ceilingRatio: ratioOf(ceiling),
      builtinStale: builtin.stale.stale,
      staleRounds: STALE_ROUNDS,
      cachekitStale,
    };
  } finally {
    for (const h of handles) {
      try {
        await h.close();
      } catch {
        // closing is best effort; the table and the server go next anyway
      }
    }
    if (owner) {
      await owner.query(`DROP TABLE IF EXISTS "${TABLE}"`);
      await owner.destroy();
    }
    await quietQuit(admin);
    await redis.stop();
  }
}

if (require.main === module) {
  runFindOne().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
