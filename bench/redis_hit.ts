/**
 * Scenario "Redis-only hit, 64 concurrent callers over 1,000 keys": the cost of a get-or-set
 * answered by Redis when there is no in-process tier at all. Runs against a private,
 * throw-away redis-server (never the shared one), which is stopped at the end.
 *
 * Run alone with `npx ts-node --transpile-only bench/redis_hit.ts`, or with the L1 scenario via
 * `npm run bench`.
 */
import Redis from 'ioredis';
import { BentoCache, bentostore } from 'bentocache';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { Cacheable } from 'cacheable';
import { createKeyv } from '@keyv/redis';
import { Cache } from '../src';
import { RedisStore } from '../src/redis';
import { KeyvStore } from '../src/keyv';
import {
  type CommandCounter,
  type ConcurrentResult,
  corkPerTick,
  countClientCommands,
  fmtMs,
  fmtOps,
  fmtRatio,
  keySequence,
  makeProduct,
  printTable,
  probeScriptCounting,
  type Product,
  runConcurrent,
  serverCommandDelta,
  serverCommandTotal,
  serverCpuSeconds,
  sized,
  startRedis,
} from './support';

const KEY_COUNT = 1000;
const WORKERS = 64;
/** Timed calls per pass and contestant; a pass is also capped in time, see runConcurrent. */
const CALLS = sized(30_000, 500);
const WARMUP_CALLS = sized(5_000, 200);
/**
 * Every contestant is timed in four passes (contestants forward, then in reverse, twice); the
 * best is shown. Two longer passes differed by up to 40% on the shared 2-core VM.
 */
const PASSES = sized(4, 1);

const KEYS = Array.from({ length: KEY_COUNT }, (_, i) => `product:${i}`);
// One fixed pseudo-random walk over the keys, the same for every contestant.
const SEQUENCE = keySequence(CALLS, KEY_COUNT);
const WARM_SEQUENCE = keySequence(WARMUP_CALLS, KEY_COUNT, 12345);

let loaderCalls = 0;
const load = (i: number): Product => {
  loaderCalls++;
  return makeProduct(i);
};

interface Handle {
  /** One get-or-set of key index `i`. */
  call(i: number): Promise<unknown>;
  /** The ioredis client, when there is one, for client-side command counting. */
  ioredis?: Redis;
  close(): Promise<void>;
}

interface Contestant {
  name: string;
  /** 'default': a competitor as configured out of the box; 'tuned': given an extra option; 'info': shown, never ranked. */
  kind: 'cachekit' | 'default' | 'tuned' | 'info';
  config: string;
  /** Timed calls per pass when not CALLS: slow informational rows get fewer, to bound the run. */
  calls?: number;
  setup(url: string): Promise<Handle>;
}

function ioredis(url: string, autoPipelining: boolean): Redis {
  return new Redis(url, autoPipelining ? { enableAutoPipelining: true } : {});
}

async function quietQuit(c: Redis): Promise<void> {
  try {
    await c.quit();
  } catch {
    c.disconnect();
  }
}

type CachekitClient = 'defaults' | 'autopipelining' | 'corked';

function cachekit(name: string, client: CachekitClient): Contestant {
  const how = {
    defaults: 'ioredis defaults',
    autopipelining: 'ioredis { enableAutoPipelining: true }',
    corked: 'ioredis defaults + socket corked per tick (bench-side experiment, support.ts corkPerTick)',
  }[client];
  return {
    name,
    kind: client === 'defaults' ? 'cachekit' : client === 'autopipelining' ? 'tuned' : 'info',
    config:
      `new Cache({ l1: false, l2: new RedisStore({ client }) }), ${how}; ` +
      "{ ttl: '5m', tags: [`product:${i}`, 'products'] } — 2 tags (+ the namespace's) checked in the same round trip on every hit",
    async setup(url) {
      const io = ioredis(url, client === 'autopipelining');
      if (client === 'corked') corkPerTick(io);
      const c = new Cache({ prefix: `ck${client[0]}`, l1: false, l2: new RedisStore({ client: io }) });
      return {
        call: (i) => c.getOrLoad(KEYS[i], () => load(i), { ttl: '5m', tags: [`product:${i}`, 'products'] }),
        ioredis: io,
        close: async () => {
          await c.close();
          await quietQuit(io);
        },
      };
    },
  };
}

/** cachekit on its generic Keyv store, i.e. through node-redis: two round trips per hit (entry, then tags). */
function cachekitKeyv(name: string): Contestant {
  return {
    name,
    kind: 'info',
    config:
      "new Cache({ l1: false, l2: new KeyvStore(createKeyv(url, { namespace: 'ckv' })) }) — node-redis; " +
      'same options and 2 tags, checked with a second round trip (MGET)',
    async setup(url) {
      const keyv = createKeyv(url, { namespace: 'ckv' });
      const c = new Cache({ prefix: 'ckv', l1: false, l2: new KeyvStore(keyv) });
      return {
        call: (i) => c.getOrLoad(KEYS[i], () => load(i), { ttl: '5m', tags: [`product:${i}`, 'products'] }),
        close: () => c.close(),
      };
    },
  };
}

function bento(name: string, autoPipelining: boolean, tags: boolean): Contestant {
  return {
    name,
    kind: tags ? 'info' : autoPipelining ? 'tuned' : 'default',
    calls: tags ? sized(5_000, 200) : undefined,
    config:
      `bentostore().useL2Layer(redisDriver({ connection: client })) — no L1 — ioredis ${autoPipelining ? '{ enableAutoPipelining: true }' : 'defaults'}; ttl '5m'` +
      (tags ? ", tags [`product:${i}`, 'products'] (bentocache checks each tag with its own GET)" : ''),
    async setup(url) {
      const client = ioredis(url, autoPipelining);
      const prefix = `bc${autoPipelining ? 'ap' : ''}${tags ? 't' : ''}`;
      const bc = new BentoCache({
        default: 'redis',
        prefix,
        stores: { redis: bentostore().useL2Layer(redisDriver({ connection: client })) },
      });
      const call = tags
        ? (i: number) =>
            bc.getOrSet({
              key: KEYS[i],
              factory: () => load(i),
              ttl: '5m',
              tags: [`product:${i}`, 'products'],
            })
        : (i: number) => bc.getOrSet({ key: KEYS[i], factory: () => load(i), ttl: '5m' });
      return {
        call,
        ioredis: client,
        close: async () => {
          await bc.disconnectAll();
          await quietQuit(client);
        },
      };
    },
  };
}

const contestants: Contestant[] = [
  cachekit('cachekit getOrLoad', 'defaults'),
  cachekit('cachekit getOrLoad +autopipelining', 'autopipelining'),
  cachekit('cachekit getOrLoad +corked socket', 'corked'),
  cachekitKeyv('cachekit getOrLoad via KeyvStore'),
  bento('bentocache getOrSet', false, false),
  bento('bentocache getOrSet +autopipelining', true, false),
  bento('bentocache getOrSet +2 tags', false, true),
  {
    name: 'cache-manager wrap',
    kind: 'default',
    config:
      "createCache({ stores: [createKeyv(url, { namespace: 'cm' })] }) — @keyv/redis (node-redis); ttl 300000",
    async setup(url) {
      const keyv = createKeyv(url, { namespace: 'cm' });
      keyv.on('error', (e: unknown) => console.error('cache-manager keyv error', e));
      const cm = createCache({ stores: [keyv] });
      return {
        call: (i) => cm.wrap(KEYS[i], () => load(i), 300_000),
        close: async () => {
          await cm.disconnect();
        },
      };
    },
  },
  {
    name: 'cacheable getOrSet',
    kind: 'default',
    config:
      "new Cacheable({ primary: createKeyv(url, { namespace: 'ca' }) }) — Redis as the only store; ttl '5m'",
    async setup(url) {
      const keyv = createKeyv(url, { namespace: 'ca' });
      keyv.on('error', (e: unknown) => console.error('cacheable keyv error', e));
      const cacheable = new Cacheable({ primary: keyv });
      return {
        call: (i) => cacheable.getOrSet(KEYS[i], async () => load(i), { ttl: '5m' }),
        close: async () => {
          await cacheable.disconnect();
        },
      };
    },
  },
];

export interface RedisRow {
  name: string;
  kind: Contestant['kind'];
  config: string;
  passes: ConcurrentResult[];
  best: ConcurrentResult;
  serverCmdsPerCall: number;
  clientCpuUsPerCall: number;
  serverCpuUsPerCall: number;
  clientCmdsPerCall: number | undefined;
  clientCommands: string;
  misses: number;
}

export interface RedisResult {
  rows: RedisRow[];
  /** cachekit (default ioredis) ÷ best competitor in its default configuration (target ≥ 1.2). */
  ratio: number;
  bestCompetitor: string;
  /** cachekit with auto-pipelining ÷ the best competitor row of any configuration. */
  tunedRatio: number;
  bestTunedCompetitor: string;
  scriptInnerCounted: number;
}

interface Measured {
  result: ConcurrentResult;
  /** CPU time of this process (user + system: the client's syscalls count) and of redis-server, µs. */
  clientCpuUs: number;
  serverCpuUs: number;
  serverCmds: number;
  clientCmds: number | undefined;
  byName: Map<string, number> | undefined;
  misses: number;
}

async function measure(
  h: Handle,
  calls: number,
  admin: Redis,
  counter: CommandCounter | undefined,
): Promise<Measured> {
  const loadsBefore = loaderCalls;
  counter?.reset();
  const before = await serverCommandTotal(admin);
  const cpuBefore = await serverCpuSeconds(admin);
  const own = process.cpuUsage();
  const result = await runConcurrent(WORKERS, calls, (n) => h.call(SEQUENCE[n]), 10_000);
  const ownUsed = process.cpuUsage(own);
  const cpuAfter = await serverCpuSeconds(admin);
  const after = await serverCommandTotal(admin);
  return {
    result,
    clientCpuUs: ownUsed.user + ownUsed.system,
    serverCpuUs: (cpuAfter - cpuBefore) * 1e6,
    // The two INFO cpu readings inside the window are commands too.
    serverCmds: serverCommandDelta(before, after) - 2,
    clientCmds: counter?.count,
    byName: counter ? new Map(counter.byName) : undefined,
    misses: loaderCalls - loadsBefore,
  };
}

export async function runRedisHit(): Promise<RedisResult> {
  console.log(`\n=== Redis-only hit, ${WORKERS} concurrent callers over ${KEY_COUNT} keys ===`);
  const redis = await startRedis();
  const admin = new Redis(redis.url);
  const handles: Handle[] = [];
  try {
    const inner = await probeScriptCounting(admin, 'bench:probe');
    console.log(
      `private redis-server on port ${redis.port}. Probe: one EVAL making 3 redis.call()s counted as ${inner} ` +
        `in total_commands_processed → ${inner > 1 ? 'commands run inside Lua scripts ARE counted' : 'only the EVAL is counted'}.`,
    );
    console.log(
      `Each contestant: pre-fill ${KEY_COUNT} keys (~${JSON.stringify(makeProduct(1)).length}-byte entity), ` +
        `${WARMUP_CALLS} warm-up calls, then ${PASSES} timed passes of ${CALLS / 1000}k calls (5k for the slow info row) ` +
        `(contestants in table order on odd passes, in reverse on even ones); the best pass is shown.`,
    );
    console.log(
      'node CPU = this process (user+sys) ÷ calls; redis CPU = INFO cpu used_cpu_user+sys delta ÷ calls;\n' +
        'srv cmds/call = INFO stats total_commands_processed delta ÷ calls (includes commands inside scripts);\n' +
        'cli cmds/call = commands written by the ioredis client (a script is one EVALSHA); n/a for node-redis.\n',
    );

    // Setup and pre-fill every contestant first, so that each pass runs them back to back.
    for (const c of contestants) {
      const h = await c.setup(redis.url);
      handles.push(h);
      const loadsBefore = loaderCalls;
      for (let i = 0; i < KEY_COUNT; i++) await h.call(i);
      if (loaderCalls - loadsBefore !== KEY_COUNT) {
        throw new Error(
          `${c.name}: pre-fill ran the loader ${loaderCalls - loadsBefore} times, expected ${KEY_COUNT}`,
        );
      }
      // Hits must return the right entity, whatever shape the library gives it back in.
      for (const i of [0, 7, 999]) {
        const v = (await h.call(i)) as Product;
        if (v?.id !== i) throw new Error(`${c.name}: key ${i} returned ${JSON.stringify(v)?.slice(0, 80)}`);
      }
      await runConcurrent(WORKERS, WARMUP_CALLS, (n) => h.call(WARM_SEQUENCE[n]));
    }

    const counters = handles.map((h) => (h.ioredis ? countClientCommands(h.ioredis) : undefined));
    const measured: Measured[][] = contestants.map(() => []);
    for (let pass = 0; pass < PASSES; pass++) {
      const order = contestants.map((_, i) => i);
      if (pass % 2 === 1) order.reverse();
      for (const i of order) {
        measured[i].push(await measure(handles[i], contestants[i].calls ?? CALLS, admin, counters[i]));
      }
    }
    counters.forEach((c) => c?.restore());

    const rows: RedisRow[] = contestants.map((c, i) => {
      const ms = measured[i];
      const best = ms.reduce((a, b) => (b.result.opsPerSec > a.result.opsPerSec ? b : a));
      const calls = best.result.calls;
      return {
        name: c.name,
        kind: c.kind,
        config: c.config,
        passes: ms.map((m) => m.result),
        best: best.result,
        serverCmdsPerCall: best.serverCmds / calls,
        clientCpuUsPerCall: best.clientCpuUs / calls,
        serverCpuUsPerCall: best.serverCpuUs / calls,
        clientCmdsPerCall: best.clientCmds === undefined ? undefined : best.clientCmds / calls,
        clientCommands: best.byName
          ? [...best.byName]
              .sort((a, b) => b[1] - a[1])
              .map(([n, k]) => `${n} ${(k / calls).toFixed(2)}`)
              .join(', ')
          : '',
        misses: ms.reduce((s, m) => s + m.misses, 0),
      };
    });

    printTable(
      [
        'contestant',
        ' ops/s',
        ' passes: slowest–fastest',
        ' p50',
        ' p99',
        ' node CPU µs/call',
        ' redis CPU µs/call',
        ' srv cmds/call',
        ' cli cmds/call',
        ' misses',
        'client commands per call',
      ],
      rows.map((r) => [
        r.name + (r.kind === 'info' ? ' (info)' : ''),
        fmtOps(r.best.opsPerSec) + (r.best.capped ? ' (capped)' : ''),
        `${fmtOps(Math.min(...r.passes.map((p) => p.opsPerSec)))}–${fmtOps(Math.max(...r.passes.map((p) => p.opsPerSec)))}`,
        fmtMs(r.best.p50Ms),
        fmtMs(r.best.p99Ms),
        r.clientCpuUsPerCall.toFixed(1),
        r.serverCpuUsPerCall.toFixed(1),
        r.serverCmdsPerCall.toFixed(2),
        r.clientCmdsPerCall === undefined ? 'n/a' : r.clientCmdsPerCall.toFixed(2),
        String(r.misses),
        r.clientCommands,
      ]),
    );
    console.log('\nConfigurations:');
    for (const r of rows) console.log(`  ${r.name}: ${r.config}`);

    const ck = rows.find((r) => r.name === 'cachekit getOrLoad')!;
    const ckAp = rows.find((r) => r.name === 'cachekit getOrLoad +autopipelining')!;
    const best = (kinds: Contestant['kind'][]) =>
      rows
        .filter((r) => kinds.includes(r.kind))
        .reduce((a, b) => (b.best.opsPerSec > a.best.opsPerSec ? b : a));
    const bestDefault = best(['default']);
    // Competitors in any configuration: defaults plus the ones given auto-pipelining.
    const bestAnyCompetitor = rows
      .filter((r) => r.kind === 'default' || (r.kind === 'tuned' && !r.name.startsWith('cachekit')))
      .reduce((a, b) => (b.best.opsPerSec > a.best.opsPerSec ? b : a));
    const ratio = ck.best.opsPerSec / bestDefault.best.opsPerSec;
    const tunedRatio = ckAp.best.opsPerSec / bestAnyCompetitor.best.opsPerSec;
    console.log(
      `\ncachekit ÷ best competitor as configured by default (${bestDefault.name}): ${fmtRatio(ratio)} (target ≥ 1.2×)`,
    );
    console.log(
      `cachekit +autopipelining ÷ best competitor of any configuration (${bestAnyCompetitor.name}): ${fmtRatio(tunedRatio)}`,
    );
    console.log(
      'Note: cache-manager and cacheable talk to Redis through node-redis, which pipelines commands issued in the\n' +
        'same tick by default; bentocache was given enableAutoPipelining too (its own row), like cachekit.',
    );
    return {
      rows,
      ratio,
      bestCompetitor: bestDefault.name,
      tunedRatio,
      bestTunedCompetitor: bestAnyCompetitor.name,
      scriptInnerCounted: inner,
    };
  } finally {
    for (const h of handles) {
      try {
        await h.close();
      } catch {
        // closing is best effort; the server is stopped next anyway
      }
    }
    await quietQuit(admin);
    await redis.stop();
  }
}

if (require.main === module) {
  runRedisHit().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
