/**
 * Measurement helpers shared by the benchmark scenarios. Nothing here knows about any cache
 * library: scenarios hand in plain functions and get numbers back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import type Redis from 'ioredis';

/**
 * Smoke mode (`CACHEKIT_BENCH_SMOKE=1`): every scenario runs a tiny iteration, so that a test
 * can prove the benchmarks still run without paying for real measurements.
 */
export const SMOKE = process.env.CACHEKIT_BENCH_SMOKE === '1';

/** `full` normally, `smoke` in smoke mode. */
export function sized<T>(full: T, smoke: T): T {
  return SMOKE ? smoke : full;
}

// ---------------------------------------------------------------------------------------------
// Sequential throughput
// ---------------------------------------------------------------------------------------------

export interface ThroughputResult {
  /** Median round, calls per second. */
  opsPerSec: number;
  /** Slowest and fastest rounds, to show the spread. */
  minOpsPerSec: number;
  maxOpsPerSec: number;
  /** Calls per round, chosen by calibration. */
  callsPerRound: number;
  rounds: number;
}

export interface ThroughputOptions {
  /** Wall time a timed round should take; calibration picks N to match. Default 150 ms. */
  roundMs?: number;
  /** Timed rounds; the median is reported. Default 5. */
  rounds?: number;
  /** Untimed warm-up, so that the JIT has optimised the call path before timing. Default 200 ms. */
  warmupMs?: number;
}

/**
 * A value the measured functions' results are folded into, so that the JIT cannot prove a
 * synchronous call's result unused and drop the call. It is read once at the end of the run.
 */
export let sink = 0;

function consume(v: unknown): void {
  sink = (sink + (v === undefined ? 1 : 2)) | 0;
}

/** Runs `n` calls and resolves to the elapsed milliseconds. */
type Runner = (n: number) => Promise<number>;

/**
 * A timing loop of its own for one function. V8 keeps type feedback per function literal, so one
 * loop shared by every contestant would see all their functions at its call site, turn
 * megamorphic and stop inlining: the fastest contestants would be taxed for the presence of the
 * others, and by how many ran before them. `new Function` gives each contestant a fresh literal.
 * Results are folded into a counter that is returned, so no call can be dropped as unused.
 */
export function makeRunner(fn: () => unknown, isAsync: boolean): Runner {
  const body =
    'let acc = 0; const t0 = now();' +
    `for (let i = 0; i < n; i++) { const v = ${isAsync ? 'await ' : ''}fn(); acc = (acc + (v === undefined ? 1 : 2)) | 0; }` +
    'return [now() - t0, acc];';
  const loop = new Function('fn', 'n', 'now', isAsync ? `return (async () => { ${body} })();` : body) as (
    f: () => unknown,
    n: number,
    now: () => number,
  ) => [number, number] | Promise<[number, number]>;
  const now = () => performance.now();
  return async (n) => {
    const [ms, acc] = await loop(fn, n, now);
    sink = (sink + acc) | 0;
    return ms;
  };
}

/**
 * Warms `fn` up and finds how many calls make a round of about `roundMs`. Calibration doubles N
 * until a batch takes long enough to time reliably; the caps keep the loop bounded even for a
 * function that is implausibly fast.
 */
export async function calibrate(run: Runner, roundMs: number, warmupMs: number): Promise<number> {
  let n = 1000;
  let spent = 0;
  let elapsed = await run(n);
  spent += elapsed;
  for (let i = 0; i < 30 && elapsed < 20 && n < 50_000_000; i++) {
    n *= 2;
    elapsed = await run(n);
    spent += elapsed;
  }
  const perCallMs = elapsed / n;
  if (spent < warmupMs) await run(Math.min(50_000_000, Math.ceil((warmupMs - spent) / perCallMs)));
  return Math.max(1000, Math.min(50_000_000, Math.round(roundMs / perCallMs)));
}

/** Calls per second of one timed round of `n` sequential calls. */
export async function timeRound(run: Runner, n: number): Promise<number> {
  return (n / (await run(n))) * 1000;
}

function summarize(rates: number[], callsPerRound: number): ThroughputResult {
  const sorted = [...rates].sort((a, b) => a - b);
  return {
    opsPerSec: median(sorted),
    minOpsPerSec: sorted[0],
    maxOpsPerSec: sorted[sorted.length - 1],
    callsPerRound,
    rounds: sorted.length,
  };
}

/**
 * Ops/sec of `fn` called back to back by one caller (each call awaited before the next when
 * `async`): warm-up and calibration, then several rounds of N calls. The median round is
 * reported because it ignores one-off GC pauses in either direction better than the mean.
 */
export async function measureSequential(
  fn: () => unknown,
  isAsync: boolean,
  opts: ThroughputOptions = {},
): Promise<ThroughputResult> {
  const run = makeRunner(fn, isAsync);
  const n = await calibrate(run, opts.roundMs ?? 150, opts.warmupMs ?? 200);
  const rates: number[] = [];
  for (let r = 0; r < (opts.rounds ?? 5); r++) rates.push(await timeRound(run, n));
  return summarize(rates, n);
}

/**
 * `measureSequential` for several functions at once, with their rounds interleaved (round 1 of
 * each, then round 2 of each, …). On a shared machine a burst of outside load then slows one
 * round of every contestant instead of all rounds of one, and the medians stay comparable.
 */
export async function measureInterleaved(
  fns: { fn: () => unknown; isAsync: boolean }[],
  opts: ThroughputOptions = {},
): Promise<ThroughputResult[]> {
  const runs = fns.map((f) => makeRunner(f.fn, f.isAsync));
  const ns: number[] = [];
  for (const run of runs) ns.push(await calibrate(run, opts.roundMs ?? 150, opts.warmupMs ?? 200));
  const rates: number[][] = fns.map(() => []);
  for (let r = 0; r < (opts.rounds ?? 5); r++) {
    for (let i = 0; i < runs.length; i++) rates[i].push(await timeRound(runs[i], ns[i]));
  }
  return rates.map((r, i) => summarize(r, ns[i]));
}

// ---------------------------------------------------------------------------------------------
// Allocation
// ---------------------------------------------------------------------------------------------

/**
 * Bytes allocated on the V8 heap per call of `fn`. Heap-used deltas alone undercount whenever a
 * scavenge runs mid-batch, so the bytes each GC freed (before − after, from V8's GC profiler)
 * are added back: allocated = (used at end − used at start) + Σ freed by GCs in between.
 * It is measured in its own pass, because the profiler adds a little work to every GC.
 */
export async function measureAllocation(
  fn: () => unknown,
  isAsync: boolean,
  calls = 200_000,
): Promise<number> {
  // The runner is made (and its code compiled by a first small batch) outside the window.
  const run = makeRunner(fn, isAsync);
  await run(100);
  const profiler = new GCProfiler();
  profiler.start();
  const before = getHeapStatistics().used_heap_size;
  await run(calls);
  const after = getHeapStatistics().used_heap_size;
  const stats = profiler.stop();
  let freed = 0;
  for (const s of stats?.statistics ?? []) {
    freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  }
  return Math.max(0, (after - before + freed) / calls);
}

// ---------------------------------------------------------------------------------------------
// Concurrent callers
// ---------------------------------------------------------------------------------------------

export interface ConcurrentResult {
  calls: number;
  elapsedMs: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** True when the time cap stopped the run before `totalCalls`. */
  capped: boolean;
}

/**
 * `workers` async loops share one call counter and stop when `totalCalls` calls have started
 * (or `maxMs` has passed, so a slow contestant cannot stall the run). Call `i` gets `fn(i)`;
 * every call's latency is kept, for percentiles.
 */
export async function runConcurrent(
  workers: number,
  totalCalls: number,
  fn: (i: number) => Promise<unknown>,
  maxMs = 15_000,
): Promise<ConcurrentResult> {
  const lat = new Float64Array(totalCalls);
  let next = 0;
  let done = 0;
  let capped = false;
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  const worker = async () => {
    while (next < totalCalls) {
      const i = next++;
      const s = performance.now();
      if (s > deadline) {
        capped = true;
        return;
      }
      consume(await fn(i));
      lat[i] = performance.now() - s;
      done++;
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  const elapsedMs = performance.now() - t0;
  // Calls that never ran (time cap) are left at 0 and must not count in the percentiles.
  const got = capped ? lat.filter((x) => x > 0) : lat;
  got.sort();
  return {
    calls: done,
    elapsedMs,
    opsPerSec: (done / elapsedMs) * 1000,
    p50Ms: percentile(got, 0.5),
    p99Ms: percentile(got, 0.99),
    capped,
  };
}

// ---------------------------------------------------------------------------------------------
// Private redis-server
// ---------------------------------------------------------------------------------------------

export interface PrivateRedis {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** A port that was free a moment ago: the OS picks it for a listen(0), which is closed again. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const running = new Set<ChildProcess>();
// If the benchmark dies, its private servers must not outlive it.
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/**
 * Starts a throw-away redis-server (no RDB, no AOF) on a free port and waits until it answers.
 * Only this process's own child is ever stopped, by its pid: the shared Redis is never touched.
 */
export async function startRedis(): Promise<PrivateRedis> {
  let lastError: unknown;
  // A port found free can be taken by someone else before redis binds it; a few tries cover that.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    running.add(child);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      running.delete(child);
    });
    child.once('error', (e) => {
      lastError = e;
      exited = true;
    });
    const ok = await waitForPing(port, () => exited);
    if (ok) {
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        stop: () => stopChild(child),
      };
    }
    await stopChild(child);
    lastError ??= new Error(`redis-server did not answer on port ${port}`);
  }
  throw lastError;
}

async function waitForPing(port: number, gone: () => boolean): Promise<boolean> {
  const { default: IORedis } = await import('ioredis');
  for (let i = 0; i < 50 && !gone(); i++) {
    const c = new IORedis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    try {
      await c.connect();
      if ((await c.ping()) === 'PONG') return true;
    } catch {
      // not up yet
    } finally {
      c.disconnect();
    }
    await sleep(100);
  }
  return false;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------------
// Command counting
// ---------------------------------------------------------------------------------------------

export interface CommandCounter {
  /** Commands the client has written since counting started (or since the last reset). */
  count: number;
  /** The same, by command name (lower case). */
  byName: Map<string, number>;
  reset(): void;
  /** Puts the client's original sendCommand back. */
  restore(): void;
}

/**
 * Counts what an ioredis client sends by wrapping `sendCommand` on the instance: every path
 * (plain calls, defineCommand scripts, MULTI, pipelines and auto-pipelining) goes through it.
 * A script counts as one command here (its EVALSHA); what it runs inside is server-side only.
 */
export function countClientCommands(client: Redis): CommandCounter {
  const target = client as unknown as { sendCommand: (cmd: { name: string }, ...rest: unknown[]) => unknown };
  const original = target.sendCommand;
  const counter: CommandCounter = {
    count: 0,
    byName: new Map(),
    reset() {
      counter.count = 0;
      counter.byName.clear();
    },
    restore() {
      target.sendCommand = original;
    },
  };
  target.sendCommand = function (this: unknown, cmd, ...rest) {
    counter.count++;
    const name = String(cmd?.name ?? '?').toLowerCase();
    counter.byName.set(name, (counter.byName.get(name) ?? 0) + 1);
    return original.call(this, cmd, ...rest);
  };
  return counter;
}

/**
 * EXPERIMENT, not a library feature: makes an ioredis client write at most once per tick.
 * ioredis writes every command to its socket on its own, one syscall each; node-redis batches a
 * tick's commands into one write. Corking the socket on a tick's first write and uncorking it on
 * the next tick gives ioredis the same batching without its auto-pipelining machinery. It
 * reaches into ioredis internals (`client.stream`, replaced on every reconnect), hence 'connect'.
 */
export function corkPerTick(client: Redis): void {
  const patch = () => {
    const stream = (client as unknown as { stream?: import('node:net').Socket }).stream;
    if (!stream || (stream as unknown as { corkPatched?: boolean }).corkPatched) return;
    (stream as unknown as { corkPatched?: boolean }).corkPatched = true;
    const write = stream.write;
    let corked = false;
    const uncork = () => {
      corked = false;
      stream.uncork();
    };
    stream.write = function (this: typeof stream, ...args: unknown[]) {
      if (!corked) {
        corked = true;
        stream.cork();
        process.nextTick(uncork);
      }
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof stream.write;
  };
  patch();
  client.on('connect', patch);
}

/** The server's `total_commands_processed` (INFO stats). */
export async function serverCommandTotal(admin: Redis): Promise<number> {
  const info = await admin.info('stats');
  const m = /total_commands_processed:(\d+)/.exec(info);
  if (!m) throw new Error('INFO stats has no total_commands_processed');
  return Number(m[1]);
}

/** CPU seconds the redis-server has used so far (INFO cpu, user + system, all its threads). */
export async function serverCpuSeconds(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const user = /used_cpu_user:([\d.]+)/.exec(info);
  const sys = /used_cpu_sys:([\d.]+)/.exec(info);
  if (!user || !sys) throw new Error('INFO cpu has no used_cpu_user/used_cpu_sys');
  return Number(user[1]) + Number(sys[1]);
}

/**
 * Commands the server processed between two readings taken with `serverCommandTotal`. The
 * reading that opened the window is itself counted by the time of the second one, so one
 * command is taken off.
 */
export function serverCommandDelta(before: number, after: number): number {
  return after - before - 1;
}

/**
 * Finds out, on this server, whether commands a Lua script runs (redis.call) are included in
 * `total_commands_processed`, by running one EVAL that makes three calls. Returns how many
 * commands the server counted for that one EVAL: 1 means only the EVAL, 4 means inner calls too.
 */
export async function probeScriptCounting(admin: Redis, scratchKey: string): Promise<number> {
  const before = await serverCommandTotal(admin);
  await admin.eval(
    "redis.call('SET', KEYS[1], '1'); redis.call('GET', KEYS[1]); redis.call('DEL', KEYS[1]); return 1",
    1,
    scratchKey,
  );
  const after = await serverCommandTotal(admin);
  return serverCommandDelta(before, after);
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/** Prints rows as a table; columns whose header starts with a space are right-aligned. */
export function printTable(headers: string[], rows: string[][]): void {
  const right = headers.map((h) => h.startsWith(' '));
  const cells = [headers.map((h) => h.trim()), ...rows];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r.map((v, c) => (right[c] ? (v ?? '').padStart(widths[c]) : (v ?? '').padEnd(widths[c]))).join('  ');
  console.log(line(cells[0]).trimEnd());
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r).trimEnd());
}

/** 12,345,678 → "12.35M", 45,678 → "45.7k". */
export function fmtOps(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

export function fmtMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)}µs` : `${ms.toFixed(2)}ms`;
}

export function fmtRatio(x: number): string {
  return `${x.toFixed(2)}×`;
}

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

export function median(sorted: number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A small deterministic generator (xorshift32), so that every Redis contestant walks the same
 * "random" key sequence and none gets luckier key locality than another.
 */
export function keySequence(length: number, keyCount: number, seed = 0x9e3779b9): Uint32Array {
  const out = new Uint32Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x % keyCount;
  }
  return out;
}

/** The entity every scenario caches: a typical ~500-byte product row with a Date and nesting. */
export interface Product {
  id: number;
  name: string;
  price: number;
  sku: string;
  description: string;
  createdAt: Date;
  tags: string[];
  dimensions: {
    width: number;
    height: number;
    depth: number;
    unit: string;
    weight: { value: number; unit: string };
  };
}

export function makeProduct(id: number): Product {
  return {
    id,
    name: `Ergonomic steel desk lamp, matte black #${id}`,
    price: 49.99 + (id % 100),
    sku: `LMP-${String(id).padStart(6, '0')}-BLK`,
    description:
      'An adjustable desk lamp with a weighted steel base, a warm-white LED head and a fabric cord. ' +
      'Dimmable in five steps; ships flat-packed with a two-year warranty, a spare diffuser and a wall bracket.',
    createdAt: new Date(Date.UTC(2024, 0, 1) + id * 86_400_000),
    tags: ['lighting', 'office', 'steel', 'led', 'desk'],
    dimensions: { width: 18.5, height: 44, depth: 22.25, unit: 'cm', weight: { value: 2.35, unit: 'kg' } },
  };
}
