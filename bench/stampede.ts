/**
 * Scenario "stampede": 1,000 callers ask for one cold key at the same moment and the loader
 * takes 50 ms. Counts how many times the loader runs and how long the last caller waits, in
 * memory, Redis-only and layered (L1 + Redis) mode in one process, and split over 2 processes
 * (500 callers each) sharing Redis, where only a cross-process lock keeps the loader to one run.
 * Runs against a private, throw-away redis-server (never the shared one).
 *
 * Run alone with `npx ts-node --transpile-only bench/stampede.ts`, or with the others via
 * `npm run bench`. The same file is the child process of the 2-process rows (`… stampede.ts child`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import Keyv from 'keyv';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { createKeyv } from '@keyv/redis';
import { Cache } from '../src';
import { RedisStore } from '../src/redis';
import { fmtMs, makeProduct, median, printTable, type Product, sized, sleep, startRedis } from './support';

const CALLERS = sized(1000, 50);
const PROCESSES = 2;
const LOAD_MS = 50;
/** Timed rounds per contestant, each on a key of its own that no one has loaded yet. */
const ROUNDS = sized(5, 1);
/** The target: the last caller is served within the loader's time plus this. */
const SLACK_MS = 20;

let loaderCalls = 0;
const load = async (): Promise<Product> => {
  loaderCalls++;
  await sleep(LOAD_MS);
  return makeProduct(1);
};

interface Handle {
  /** One get-or-load of `key`. */
  call(key: string): Promise<Product>;
  close(): Promise<void>;
}

type Mode = 'memory' | 'redis' | 'layered';

/** A contestant as a setup function, by name, so that a child process can build it too. */
interface Setup {
  library: 'cachekit' | 'bentocache' | 'cache-manager';
  mode: Mode;
  /** Whether callers in different processes coordinate (a lock held in Redis). */
  lock: boolean;
  config: string;
  make(url: string, prefix: string): Promise<Handle>;
}

async function quietQuit(c: Redis): Promise<void> {
  try {
    await c.quit();
  } catch {
    c.disconnect();
  }
}

function cachekit(mode: Mode, lock: boolean): Setup {
  const l1 = mode !== 'redis';
  return {
    library: 'cachekit',
    mode,
    lock,
    config:
      mode === 'memory'
        ? 'new Cache({ prefix }) — L1 only; in-process single-flight'
        : `new Cache({ prefix, ${l1 ? '' : 'l1: false, '}l2: new RedisStore({ client }) }), ioredis defaults; ` +
          (lock
            ? "getOrLoad(key, loader, { ttl: '5m', lock: true })"
            : "getOrLoad(key, loader, { ttl: '5m' })"),
    async make(url, prefix) {
      const io = mode === 'memory' ? undefined : new Redis(url);
      const c = new Cache({
        prefix,
        l1: l1 ? undefined : false,
        l2: io ? new RedisStore({ client: io }) : undefined,
      });
      const options = lock ? { ttl: '5m', lock: true } : { ttl: '5m' };
      return {
        call: (key) => c.getOrLoad(key, load, options),
        close: async () => {
          await c.close();
          if (io) await quietQuit(io);
        },
      };
    },
  };
}

function bento(mode: Mode): Setup {
  return {
    library: 'bentocache',
    mode,
    lock: false,
    config:
      'bentostore()' +
      (mode !== 'redis' ? '.useL1Layer(memoryDriver())' : '') +
      (mode !== 'memory' ? '.useL2Layer(redisDriver({ connection: client })), ioredis defaults' : '') +
      "; getOrSet({ key, factory, ttl: '5m' })",
    async make(url, prefix) {
      const io = mode === 'memory' ? undefined : new Redis(url);
      let store = bentostore();
      if (mode !== 'redis') store = store.useL1Layer(memoryDriver({ maxSize: '10mb' }));
      if (io) store = store.useL2Layer(redisDriver({ connection: io }));
      const bc = new BentoCache({ default: 'main', prefix, stores: { main: store } });
      return {
        call: (key) => bc.getOrSet({ key, factory: load, ttl: '5m' }),
        close: async () => {
          await bc.disconnectAll();
          if (io) await quietQuit(io);
        },
      };
    },
  };
}

function cacheManager(mode: Mode): Setup {
  return {
    library: 'cache-manager',
    mode,
    lock: false,
    config:
      mode === 'memory'
        ? 'createCache() — its default in-memory Keyv; wrap(key, loader, 300000)'
        : mode === 'redis'
          ? 'createCache({ stores: [createKeyv(url, { namespace })] }) — @keyv/redis; wrap(key, loader, 300000)'
          : 'createCache({ stores: [new Keyv(), createKeyv(url, { namespace })] }); wrap(key, loader, 300000)',
    async make(url, prefix) {
      const redis = mode === 'memory' ? undefined : createKeyv(url, { namespace: prefix });
      redis?.on('error', (e: unknown) => console.error('cache-manager keyv error', e));
      const stores = mode === 'memory' ? undefined : mode === 'redis' ? [redis!] : [new Keyv(), redis!];
      const cm = createCache(stores ? { stores } : {});
      return {
        call: (key) => cm.wrap(key, load, 300_000),
        close: async () => {
          await cm.disconnect();
        },
      };
    },
  };
}

const SETUPS: Record<string, Setup> = {
  'cachekit memory': cachekit('memory', false),
  'cachekit redis': cachekit('redis', false),
  'cachekit layered': cachekit('layered', false),
  'cachekit redis +lock': cachekit('redis', true),
  'cachekit layered +lock': cachekit('layered', true),
  'bentocache memory': bento('memory'),
  'bentocache redis': bento('redis'),
  'bentocache layered': bento('layered'),
  'cache-manager memory': cacheManager('memory'),
  'cache-manager redis': cacheManager('redis'),
  'cache-manager layered': cacheManager('layered'),
};

/** Contestants of the one-process rows: 1,000 callers in this process. */
const IN_PROCESS = [
  'cachekit memory',
  'cachekit redis',
  'cachekit layered',
  'bentocache memory',
  'bentocache redis',
  'bentocache layered',
  'cache-manager memory',
  'cache-manager redis',
  'cache-manager layered',
];

/** Contestants of the 2-process rows (memory mode shares nothing between processes, so it has none). */
const CROSS_PROCESS = [
  'cachekit redis +lock',
  'cachekit layered +lock',
  'cachekit layered',
  'bentocache layered',
  'cache-manager layered',
];

/** What one group of callers (a whole process, or this one) reports for a round. */
interface RoundReport {
  loads: number;
  /** ms from the start signal to the last caller served. */
  wallMs: number;
  /** Callers that got something else than the loaded entity. */
  wrong: number;
}

/** Runs `callers` concurrent calls of `key`, all started in the same tick. */
async function stampede(h: Handle, key: string, callers: number): Promise<RoundReport> {
  const before = loaderCalls;
  const t0 = performance.now();
  const values = await Promise.all(Array.from({ length: callers }, () => h.call(key)));
  const wallMs = performance.now() - t0;
  return {
    loads: loaderCalls - before,
    wallMs,
    wrong: values.filter((v) => v?.id !== 1).length,
  };
}

export interface StampedeRow {
  name: string;
  library: Setup['library'];
  mode: Mode;
  processes: number;
  lock: boolean;
  config: string;
  /** Loader runs of each round, summed over processes. */
  loads: number[];
  /** Wall time of each round: the slowest process's. */
  wallMs: number[];
  medianWallMs: number;
  wrong: number;
}

export interface StampedeResult {
  rows: StampedeRow[];
  loaderMs: number;
  slackMs: number;
}

function row(name: string, processes: number, reports: RoundReport[][]): StampedeRow {
  const s = SETUPS[name];
  const wallMs = reports.map((r) => Math.max(...r.map((p) => p.wallMs)));
  return {
    name,
    library: s.library,
    mode: s.mode,
    processes,
    lock: s.lock,
    config: s.config,
    loads: reports.map((r) => r.reduce((a, p) => a + p.loads, 0)),
    wallMs,
    medianWallMs: median([...wallMs].sort((a, b) => a - b)),
    wrong: reports.reduce((a, r) => a + r.reduce((b, p) => b + p.wrong, 0), 0),
  };
}

async function inProcess(name: string, url: string, index: number): Promise<StampedeRow> {
  const h = await SETUPS[name].make(url, `st${index}`);
  try {
    // A warm-up stampede on a key of its own, so that the timed rounds run compiled code on open sockets.
    await stampede(h, 'warm', CALLERS);
    const reports: RoundReport[][] = [];
    for (let r = 0; r < ROUNDS; r++) reports.push([await stampede(h, `cold:${r}`, CALLERS)]);
    return row(name, 1, reports);
  } finally {
    await h.close();
  }
}

/** A child process of a 2-process row, talking one line at a time over stdin/stdout. */
interface Child {
  proc: ChildProcess;
  next(): Promise<string>;
}

function spawnChild(name: string, url: string, prefix: string): Child {
  const proc = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', __filename, 'child', name, url, prefix],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<string>((_, reject) =>
    proc.once('exit', (code) => reject(new Error(`stampede child "${name}" exited with ${code}`))),
  );
  exited.catch(() => undefined);
  return {
    proc,
    next: () =>
      lines.length > 0
        ? Promise.resolve(lines.shift()!)
        : Promise.race([new Promise<string>((resolve) => waiting.push(resolve)), exited]),
  };
}

async function crossProcess(name: string, url: string, index: number): Promise<StampedeRow> {
  const prefix = `sx${index}`;
  const children = Array.from({ length: PROCESSES }, () => spawnChild(name, url, prefix));
  try {
    for (const c of children) {
      const l = await c.next();
      if (l !== 'ready') throw new Error(`stampede child "${name}" said ${JSON.stringify(l)}`);
    }
    const reports: RoundReport[][] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Both children get the signal within microseconds; each times its callers from its own receipt of it.
      for (const c of children) c.proc.stdin!.write(`cold:${r}\n`);
      reports.push(await Promise.all(children.map(async (c) => JSON.parse(await c.next()) as RoundReport)));
    }
    for (const c of children) c.proc.stdin!.end();
    await Promise.all(children.map((c) => new Promise((r) => c.proc.once('exit', r))));
    return row(name, PROCESSES, reports);
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  }
}

/** The child side: builds the contestant, warms it, then runs CALLERS / PROCESSES callers per key it is sent. */
async function runChild(name: string, url: string, prefix: string): Promise<void> {
  const h = await SETUPS[name].make(url, prefix);
  await stampede(h, `warm:${process.pid}`, CALLERS / PROCESSES);
  process.stdout.write('ready\n');
  let buf = '';
  let queue = Promise.resolve();
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const key = buf.slice(0, i);
      buf = buf.slice(i + 1);
      queue = queue.then(async () => {
        const report = await stampede(h, key, CALLERS / PROCESSES);
        process.stdout.write(JSON.stringify(report) + '\n');
      });
    }
  });
  await new Promise((r) => process.stdin.once('end', r));
  await queue;
  await h.close();
}

export async function runStampede(): Promise<StampedeResult> {
  console.log(
    `\n=== Stampede: ${CALLERS} callers on one cold key, ${LOAD_MS} ms loader ` +
      `(1 process, and ${PROCESSES} processes × ${CALLERS / PROCESSES}) ===`,
  );
  const redis = await startRedis();
  const rows: StampedeRow[] = [];
  try {
    console.log(
      `private redis-server on port ${redis.port}. Each row: a warm-up stampede on a key of its own, then ` +
        `${ROUNDS} rounds on fresh cold keys. loader runs = per round, all processes together; ` +
        `wall = start signal → last caller served, slowest process; target ≤ ${LOAD_MS + SLACK_MS} ms ` +
        `(loader + ${SLACK_MS} ms) and 1 loader run per cluster.\n`,
    );
    let index = 0;
    for (const name of IN_PROCESS) rows.push(await inProcess(name, redis.url, index++));
    for (const name of CROSS_PROCESS) rows.push(await crossProcess(name, redis.url, index++));

    printTable(
      [
        'contestant',
        'mode',
        ' processes',
        'lock',
        ' loader runs per round',
        ' wall (median)',
        ' wall per round',
        ' wrong',
      ],
      rows.map((r) => [
        r.library,
        r.mode,
        String(r.processes),
        r.lock ? 'yes' : r.processes > 1 ? 'no' : '',
        r.loads.join(' '),
        fmtMs(r.medianWallMs),
        r.wallMs.map((w) => w.toFixed(0)).join(' '),
        String(r.wrong),
      ]),
    );
    console.log('\nConfigurations:');
    for (const name of [...new Set([...IN_PROCESS, ...CROSS_PROCESS])]) {
      console.log(`  ${name}: ${SETUPS[name].config}`);
    }
    console.log(
      'bentocache and cache-manager coalesce concurrent loads within a process only; neither has a lock ' +
        'shared between processes, so their 2-process rows show what a cluster without one pays.',
    );
    return { rows, loaderMs: LOAD_MS, slackMs: SLACK_MS };
  } finally {
    await redis.stop();
  }
}

if (require.main === module) {
  const [mode, name, url, prefix] = process.argv.slice(2);
  const run = mode === 'child' ? runChild(name, url, prefix) : runStampede().then(() => undefined);
  run.then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
