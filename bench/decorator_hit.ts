/**
 * Scenario "decorated-method L1 hit": what a caller pays for `await svc.find(1)` when the
 * decorator finds the result in process memory, key building included. Two argument kinds: one
 * number, and one small object (whose key has to be encoded on every call). Each kind compares
 * cachekit's `@Cacheable` (default copying mode and shared mode, memory only), type-cacheable's
 * `@Cacheable` over its lru-cache adapter, and a hand-written `Map` memo.
 *
 * Run alone with `npx ts-node --transpile-only bench/decorator_hit.ts`, or with the other
 * scenarios via `npm run bench`.
 */
import { LRUCache } from 'lru-cache';
import { Cacheable as TcCacheable } from '@type-cacheable/core';
import { useAdapter } from '@type-cacheable/lru-cache-adapter';
import { Cache, Cacheable } from '../src';
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

/** The object argument: the size of a typical search or filter parameter. */
interface Query {
  term: string;
  page: number;
}

/**
 * Counts how often a decorated method's own body ran. Bodies run only on misses, so a count
 * that moves during a timed round means that round measured misses, not hits.
 */
interface Runs {
  n: number;
}

/** One service exposing both argument kinds, whichever way it caches. */
interface ProductService {
  find(id: number): Promise<Product>;
  search(q: Query): Promise<Product[]>;
}

/*
 * The cached values: the same ~500-byte entity as the L1 scenario, so that the only difference
 * from it is the decorator layer. `search` returns a one-element list of it, the usual shape of
 * a search result, and close enough in size that the two argument kinds differ only by their key.
 */
const loadOne = (runs: Runs, id: number): Product => {
  runs.n++;
  return makeProduct(id);
};
const loadList = (runs: Runs, q: Query): Product[] => {
  runs.n++;
  return [makeProduct(q.page)];
};

/*
 * Each contestant gets a class of its own, made by a factory, so that two contestants never share
 * one instance's state. The decorators are applied exactly as an application would apply them.
 */

/** cachekit as its docs show it: `@Cacheable()` with no options, the cache found on `this.cache`. */
function cachekitService(cache: Cache, runs: Runs): ProductService {
  class CatalogService implements ProductService {
    constructor(readonly cache: Cache) {}

    @Cacheable()
    async find(id: number): Promise<Product> {
      return loadOne(runs, id);
    }

    @Cacheable()
    async search(q: Query): Promise<Product[]> {
      return loadList(runs, q);
    }
  }
  return new CatalogService(cache);
}

/**
 * type-cacheable as its README shows it: an adapter over an lru-cache client, passed as `client`.
 * `find` gets an explicit `cacheKey` builder, the README's way for simple ids (and its fastest
 * key). `search` is left to the default key, which is md5(serialize-javascript({ args,
 * methodName, context })) — `context` being undefined under the default `excludeContext: true`,
 * so the class is not part of the key. TTL 300 s matches cachekit's default of 5 minutes.
 */
function typeCacheableService(runs: Runs): ProductService {
  // lru-cache 11 refuses a cache without any bound; 10,000 entries is what cachekit's L1 defaults to.
  const client = useAdapter(new LRUCache<string, object>({ max: 10_000 }));
  class CatalogService implements ProductService {
    @TcCacheable({ cacheKey: (args: unknown[]) => `find:${String(args[0])}`, client, ttlSeconds: 300 })
    async find(id: number): Promise<Product> {
      return loadOne(runs, id);
    }

    @TcCacheable({ client, ttlSeconds: 300 })
    async search(q: Query): Promise<Product[]> {
      return loadList(runs, q);
    }
  }
  return new CatalogService();
}

/** type-cacheable with its default key for the numeric method too: what leaving `cacheKey` out costs. */
function typeCacheableDefaultKeyFind(runs: Runs): Pick<ProductService, 'find'> {
  const client = useAdapter(new LRUCache<string, object>({ max: 10_000 }));
  class CatalogService {
    @TcCacheable({ client, ttlSeconds: 300 })
    async find(id: number): Promise<Product> {
      return loadOne(runs, id);
    }
  }
  return new CatalogService();
}

/**
 * The hand-written memo: an async method that builds its key the obvious way, looks it up and
 * stores on a miss. No TTL, no bound, no invalidation, and `JSON.stringify` keys depend on
 * property order: a floor for what any decorator can cost, not a cache one would ship.
 */
function mapMemoService(runs: Runs): ProductService {
  class CatalogService implements ProductService {
    private readonly byId = new Map<string, Product>();
    private readonly byQuery = new Map<string, Product[]>();

    async find(id: number): Promise<Product> {
      const key = String(id);
      const hit = this.byId.get(key);
      if (hit !== undefined) return hit;
      const fresh = loadOne(runs, id);
      this.byId.set(key, fresh);
      return fresh;
    }

    async search(q: Query): Promise<Product[]> {
      const key = JSON.stringify(q);
      const hit = this.byQuery.get(key);
      if (hit !== undefined) return hit;
      const fresh = loadList(runs, q);
      this.byQuery.set(key, fresh);
      return fresh;
    }
  }
  return new CatalogService();
}

const CK_DEFAULT = 'cachekit @Cacheable (default)';
const CK_SHARED = 'cachekit @Cacheable (shared)';
const MEMO = 'Map memo (hand-written)';

interface Contestant {
  name: string;
  /** Whether the "cachekit ÷ type-cacheable" ratio is taken against this row (the fastest such row is used). */
  competitor: boolean;
  config: string;
  runs: Runs;
  call: () => Promise<unknown>;
  close?: () => Promise<void>;
}

export interface DecoratorRow {
  name: string;
  config: string;
  mode: string;
  result: ThroughputResult;
  bytesPerOp: number;
}

export interface DecoratorGroup {
  /** 'number' or 'object'. */
  arg: string;
  rows: DecoratorRow[];
  cachekitDefault: DecoratorRow;
  /** The fastest type-cacheable row of this group: the one the target is checked against. */
  typeCacheable: DecoratorRow;
  /** cachekit default ÷ that row (target ≥ 10). */
  ratioVsTypeCacheable: number;
  /** cachekit default ÷ Map memo, and cachekit shared ÷ Map memo. */
  defaultVsMemo: number;
  sharedVsMemo: number;
}

export interface DecoratorHitResult {
  numeric: DecoratorGroup;
  object: DecoratorGroup;
}

/** Argument values: one fixed id, and a fresh query object per call, as real callers pass one. */
const ID = 1;
const query = (): Query => ({ term: 'desk lamp', page: 2 });

function contestantsFor(arg: 'number' | 'object'): Contestant[] {
  const pick = (svc: ProductService | Pick<ProductService, 'find'>) =>
    arg === 'number' ? () => svc.find(ID) : () => (svc as ProductService).search(query());
  const out: Contestant[] = [];

  const ckDefault = new Cache();
  const ckDefaultRuns = { n: 0 };
  out.push({
    name: CK_DEFAULT,
    competitor: false,
    config: '@Cacheable() on a class with `cache = new Cache()`: memory only, a copy per hit, default key',
    runs: ckDefaultRuns,
    call: pick(cachekitService(ckDefault, ckDefaultRuns)),
    close: () => ckDefault.close(),
  });

  const ckShared = new Cache({ l1: { shared: true } });
  const ckSharedRuns = { n: 0 };
  out.push({
    name: CK_SHARED,
    competitor: false,
    config: '@Cacheable() with `cache = new Cache({ l1: { shared: true } })`: returns the stored object',
    runs: ckSharedRuns,
    call: pick(cachekitService(ckShared, ckSharedRuns)),
    close: () => ckShared.close(),
  });

  const tcRuns = { n: 0 };
  out.push({
    name:
      arg === 'number'
        ? 'type-cacheable @Cacheable (cacheKey fn)'
        : 'type-cacheable @Cacheable (default key)',
    competitor: true,
    config:
      arg === 'number'
        ? 'useAdapter(new LRUCache({ max: 10000 })); @Cacheable({ cacheKey: (args) => `find:${args[0]}`, client, ttlSeconds: 300 })'
        : '@Cacheable({ client, ttlSeconds: 300 }): default key md5(serialize({ args, methodName }))',
    runs: tcRuns,
    call: pick(typeCacheableService(tcRuns)),
  });

  if (arg === 'number') {
    const tcDefaultRuns = { n: 0 };
    out.push({
      name: 'type-cacheable @Cacheable (default key)',
      competitor: true,
      config: '@Cacheable({ client, ttlSeconds: 300 }): default key md5(serialize({ args, methodName }))',
      runs: tcDefaultRuns,
      call: pick(typeCacheableDefaultKeyFind(tcDefaultRuns)),
    });
  }

  const memoRuns = { n: 0 };
  out.push({
    name: MEMO,
    competitor: false,
    config:
      arg === 'number'
        ? 'async method: key = String(id); map.get, set on miss'
        : 'async method: key = JSON.stringify(q); map.get, set on miss',
    runs: memoRuns,
    call: pick(mapMemoService(memoRuns)),
  });
  return out;
}

/**
 * What a hit hands back, found by trying: the same object twice means it is shared. For the
 * list-returning method the entity inside the list is compared too, so a shallow copy of the
 * list does not pass for a deep one.
 */
async function detectMode(call: () => Promise<unknown>): Promise<string> {
  const a = await call();
  const b = await call();
  if (a === undefined || a === null) return 'returned nothing!';
  if (a === b) return 'shared ref';
  if (Array.isArray(a) && Array.isArray(b)) return a[0] === b[0] ? 'new list, shared entity' : 'copy per hit';
  return 'copy per hit';
}

async function runGroup(arg: 'number' | 'object'): Promise<DecoratorGroup> {
  const contestants = contestantsFor(arg);
  const live: { c: Contestant; mode: string }[] = [];
  for (const c of contestants) {
    // Warm: the first call runs the body, the rest are hits that also let the JIT settle.
    for (let i = 0; i < sized(1000, 50); i++) await c.call();
    if (c.runs.n !== 1) throw new Error(`${c.name}: body ran ${c.runs.n} times in warm-up, expected once`);
    live.push({ c, mode: await detectMode(c.call) });
  }
  const before = contestants.map((c) => c.runs.n);
  // 7 rounds of 80 ms keep this scenario (both argument kinds, 9 contestants) within ~20 s.
  const results = await measureInterleaved(
    contestants.map((c) => ({ fn: c.call, isAsync: true })),
    { rounds: sized(7, 1), roundMs: sized(80, 5), warmupMs: sized(200, 5) },
  );
  const rows: DecoratorRow[] = [];
  for (let i = 0; i < live.length; i++) {
    const { c, mode } = live[i];
    const calls = Math.min(100_000, results[i].callsPerRound);
    const bytesPerOp = await measureAllocation(c.call, true, calls);
    rows.push({ name: c.name, config: c.config, mode, result: results[i], bytesPerOp });
  }
  contestants.forEach((c, i) => {
    if (c.runs.n !== before[i]) {
      throw new Error(`${c.name}: the method body ran ${c.runs.n - before[i]} times while timed: misses`);
    }
  });
  for (const c of contestants) await c.close?.();

  const row = (name: string) => rows.find((r) => r.name === name)!;
  const memo = row(MEMO).result.opsPerSec;
  const tc = rows
    .filter((_, i) => contestants[i].competitor)
    .reduce((a, b) => (b.result.opsPerSec > a.result.opsPerSec ? b : a));
  const ckDefaultRow = row(CK_DEFAULT);
  const ckDefault = ckDefaultRow.result.opsPerSec;
  const ckShared = row(CK_SHARED).result.opsPerSec;

  console.log(
    `\n--- ${arg === 'number' ? 'one numeric argument: find(1)' : "one object argument: search({ term: 'desk lamp', page: 2 })"} ---`,
  );
  printTable(
    [
      'contestant',
      ' ops/s',
      ' range',
      ' ns/call',
      ' vs type-cacheable',
      ' vs Map memo',
      ' alloc B/call',
      'what a hit returns',
    ],
    rows.map((r) => [
      r.name,
      fmtOps(r.result.opsPerSec),
      `${fmtOps(r.result.minOpsPerSec)}–${fmtOps(r.result.maxOpsPerSec)}`,
      (1e9 / r.result.opsPerSec).toFixed(0),
      fmtRatio(r.result.opsPerSec / tc.result.opsPerSec),
      fmtRatio(r.result.opsPerSec / memo),
      r.bytesPerOp.toFixed(0),
      r.mode,
    ]),
  );
  const group: DecoratorGroup = {
    arg,
    rows,
    cachekitDefault: ckDefaultRow,
    typeCacheable: tc,
    ratioVsTypeCacheable: ckDefault / tc.result.opsPerSec,
    defaultVsMemo: ckDefault / memo,
    sharedVsMemo: ckShared / memo,
  };
  console.log(
    `cachekit default ÷ ${tc.name}: ${fmtRatio(group.ratioVsTypeCacheable)} (target ≥ 10×); ` +
      `cachekit default ÷ Map memo: ${fmtRatio(group.defaultVsMemo)}; ` +
      `cachekit shared ÷ Map memo: ${fmtRatio(group.sharedVsMemo)}`,
  );
  return group;
}

export async function runDecoratorHit(): Promise<DecoratorHitResult> {
  console.log(
    `\n=== Decorated-method L1 hit, one caller, ~${JSON.stringify(makeProduct(1)).length}-byte entity ===`,
  );
  console.log(
    'Same arguments every call, every call a hit (method body runs are checked); key building included.',
  );
  console.log('ops/s = median of 7 rounds of ~80 ms after warm-up, rounds of a group interleaved;');
  console.log('range = slowest–fastest round; alloc = V8 heap bytes allocated per call.');
  console.log('"vs type-cacheable" is against the fastest type-cacheable row of the group.');

  const numeric = await runGroup('number');
  const object = await runGroup('object');

  console.log('\nConfigurations:');
  const seen = new Set<string>();
  for (const r of [...numeric.rows, ...object.rows]) {
    const line = `  ${r.name}: ${r.config}`;
    if (!seen.has(line)) console.log(line);
    seen.add(line);
  }
  return { numeric, object };
}

if (require.main === module) {
  runDecoratorHit().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
