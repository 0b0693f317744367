/**
 * Scenario "L1 hit, one caller, ~500-byte entity": the cost of a get-or-set that finds its value
 * in process memory. Every contestant is warmed so that each timed call is a hit on the same key.
 *
 * Run alone with `npx ts-node --transpile-only bench/l1_hit.ts`, or with the Redis scenario via
 * `npm run bench`.
 */
import { LRUCache } from 'lru-cache';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { createCache } from 'cache-manager';
import { Cacheable } from 'cacheable';
import { Cache } from '../src';
import {
  fmtOps,
  fmtRatio,
  makeProduct,
  measureAllocation,
  measureInterleaved,
  printTable,
  type Product,
  type ThroughputResult,
  sized,
} from './support';

const KEY = 'product:1';

interface Contestant {
  name: string;
  /** Whether it counts as a competitor's default mode for the "best competitor" ratio. */
  competitor: boolean;
  /** The configuration, in words: what was passed, and what was left to the library's default. */
  config: string;
  isAsync: boolean;
  setup(): Promise<{ call: () => unknown; close?: () => Promise<void> }>;
}

export interface L1Row {
  name: string;
  config: string;
  mode: string;
  result: ThroughputResult;
  bytesPerOp: number;
}

export interface L1Result {
  rows: L1Row[];
  /** cachekit default ÷ best competitor in its default mode (target ≥ 10). */
  defaultRatio: number;
  bestCompetitor: string;
  /** cachekit shared ÷ async Map getOrSet (target ≥ 0.5). */
  sharedRatio: number;
}

// Loaders only ever run during warm-up; a loader call in a timed round would mean a miss.
let loaderCalls = 0;
const load = (): Product => {
  loaderCalls++;
  return makeProduct(1);
};
const loadAsync = async (): Promise<Product> => load();

const contestants: Contestant[] = [
  {
    name: 'lru-cache get (sync)',
    competitor: false,
    config: 'new LRUCache({ max: 10000 }).get(key), no await: the floor',
    isAsync: false,
    async setup() {
      const lru = new LRUCache<string, Product>({ max: 10_000 });
      lru.set(KEY, load());
      return { call: () => lru.get(KEY) };
    },
  },
  {
    name: 'async Map getOrSet',
    competitor: false,
    config: 'an async function: map.get, return (set on miss)',
    isAsync: true,
    async setup() {
      const map = new Map<string, Product>();
      // The smallest honest async get-or-set: what any cache's hit path pays for being async.
      const getOrSet = async (key: string, loader: () => Promise<Product>): Promise<Product> => {
        const v = map.get(key);
        if (v !== undefined) return v;
        const fresh = await loader();
        map.set(key, fresh);
        return fresh;
      };
      return { call: () => getOrSet(KEY, loadAsync) };
    },
  },
  {
    name: 'cachekit getOrLoad (default)',
    competitor: false,
    config: "new Cache() — L1 only, default mode (a copy per hit, Dates shared read-only); { ttl: '5m' }",
    isAsync: true,
    async setup() {
      const c = new Cache({ prefix: 'bench' });
      return { call: () => c.getOrLoad(KEY, load, { ttl: '5m' }), close: () => c.close() };
    },
  },
  {
    name: 'cachekit getOrLoad (shared)',
    competitor: false,
    config: "new Cache({ l1: { shared: true } }) — returns the stored object; { ttl: '5m' }",
    isAsync: true,
    async setup() {
      const c = new Cache({ prefix: 'bench', l1: { shared: true } });
      return { call: () => c.getOrLoad(KEY, load, { ttl: '5m' }), close: () => c.close() };
    },
  },
  {
    name: 'bentocache getOrSet',
    competitor: true,
    config: "bentostore().useL1Layer(memoryDriver()) — memory only, driver defaults; ttl '5m'",
    isAsync: true,
    async setup() {
      const bento = new BentoCache({
        default: 'memory',
        stores: { memory: bentostore().useL1Layer(memoryDriver()) },
      });
      return {
        call: () => bento.getOrSet({ key: KEY, factory: load, ttl: '5m' }),
        close: () => bento.disconnectAll(),
      };
    },
  },
  {
    name: 'cache-manager wrap',
    competitor: true,
    config: 'createCache() — its default in-memory Keyv store; ttl 300000',
    isAsync: true,
    async setup() {
      const cm = createCache();
      return { call: () => cm.wrap(KEY, load, 300_000), close: () => cm.disconnect().then(() => {}) };
    },
  },
  {
    name: 'cacheable getOrSet',
    competitor: true,
    config: "new Cacheable() — its default in-memory primary; ttl '5m'",
    isAsync: true,
    async setup() {
      const cacheable = new Cacheable();
      return {
        call: () => cacheable.getOrSet(KEY, loadAsync, { ttl: '5m' }),
        close: () => cacheable.disconnect(),
      };
    },
  },
];

/**
 * What a hit hands back, found by trying rather than by reading docs: the same object twice
 * means it is shared; a Date that comes back as a string means it went through JSON.
 */
async function detectMode(call: () => unknown): Promise<string> {
  const a = (await call()) as Product;
  const b = (await call()) as Product;
  if (a === undefined || a === null) return 'returned nothing!';
  const shape = a.createdAt instanceof Date ? 'Date kept' : `createdAt is ${typeof a.createdAt}`;
  if (a === b) return `shared ref (${shape})`;
  if (a.createdAt instanceof Date && a.createdAt === b.createdAt)
    return 'copy per hit, Date shared read-only';
  return `${a.createdAt instanceof Date ? 'copy' : 'JSON round trip'} per hit (${shape})`;
}

export async function runL1Hit(): Promise<L1Result> {
  console.log(`\n=== L1 hit, one caller, ~${JSON.stringify(makeProduct(1)).length}-byte entity ===`);
  console.log('Same key every call, every call a hit; sequential awaits (one caller).');
  console.log('ops/s = median of 9 rounds of ~100 ms after warm-up, rounds of all contestants interleaved;');
  console.log('range = slowest–fastest round.');
  console.log('alloc = V8 heap bytes allocated per call (heap delta + bytes freed by GCs meanwhile),');
  console.log('        i.e. MB allocated per million calls.\n');

  // Every contestant is set up and warmed first, so that their timed rounds can be interleaved.
  const live: { c: Contestant; call: () => unknown; close?: () => Promise<void>; mode: string }[] = [];
  for (const c of contestants) {
    const { call, close } = await c.setup();
    // Warm: the first call loads, the next ones are hits that also let the JIT settle.
    for (let i = 0; i < sized(1000, 50); i++) await call();
    live.push({ c, call, close, mode: await detectMode(call) });
  }
  const loadsBefore = loaderCalls;
  const results = await measureInterleaved(
    live.map((l) => ({ fn: l.call, isAsync: l.c.isAsync })),
    { rounds: sized(9, 1), roundMs: sized(100, 5), warmupMs: sized(200, 5) },
  );
  const rows: L1Row[] = [];
  for (let i = 0; i < live.length; i++) {
    const l = live[i];
    // About one round's worth of calls (at most 100k): enough for a stable per-call figure.
    const calls = Math.min(sized(100_000, 1000), results[i].callsPerRound);
    const bytesPerOp = await measureAllocation(l.call, l.c.isAsync, calls);
    rows.push({ name: l.c.name, config: l.c.config, mode: l.mode, result: results[i], bytesPerOp });
  }
  if (loaderCalls !== loadsBefore) throw new Error('a loader ran during timing: some call was a miss');
  for (const l of live) await l.close?.();

  const by = (n: string) => rows.find((r) => r.name.startsWith(n))!;
  const floor = by('async Map').result.opsPerSec;
  printTable(
    ['contestant', ' ops/s', ' range', ' ns/call', ' vs async Map', ' alloc B/call', 'what a hit returns'],
    rows.map((r) => [
      r.name,
      fmtOps(r.result.opsPerSec),
      `${fmtOps(r.result.minOpsPerSec)}–${fmtOps(r.result.maxOpsPerSec)}`,
      (1e9 / r.result.opsPerSec).toFixed(0),
      fmtRatio(r.result.opsPerSec / floor),
      r.bytesPerOp.toFixed(0),
      r.mode,
    ]),
  );
  console.log('\nConfigurations:');
  for (const r of rows) console.log(`  ${r.name}: ${r.config}`);

  const competitors = rows.filter((r) => contestants.find((c) => c.name === r.name)!.competitor);
  const best = competitors.reduce((a, b) => (b.result.opsPerSec > a.result.opsPerSec ? b : a));
  const defaultRatio = by('cachekit getOrLoad (default)').result.opsPerSec / best.result.opsPerSec;
  const sharedRatio = by('cachekit getOrLoad (shared)').result.opsPerSec / floor;
  console.log(
    `\ncachekit default ÷ best competitor default (${best.name}): ${fmtRatio(defaultRatio)} (target ≥ 10×)`,
  );
  console.log(`cachekit shared ÷ async Map getOrSet: ${fmtRatio(sharedRatio)} (target ≥ 0.5×)`);
  return { rows, defaultRatio, bestCompetitor: best.name, sharedRatio };
}

if (require.main === module) {
  runL1Hit().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
