/**
 * `npm run bench`: every scenario in a process of its own (bench/child.ts), one after the
 * other, then one markdown table of the targets, a word on how noisy the run was, and the JSON
 * of every result (`.bench-out/results.json`, or `--json <file>`). `--readme` also rewrites the
 * table in README.md between its bench markers. The checks are informational: the process exits
 * 0 whether targets pass or not, because throughput on a shared machine is too noisy to gate
 * anything on; it exits 1 when a scenario crashes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import type { ScenarioName } from './child';
import type { DecoratorHitResult } from './decorator_hit';
import type { FindOneResult } from './find_one';
import type { L1Result } from './l1_hit';
import type { RedisResult } from './redis_hit';
import type { StampedeResult } from './stampede';
import type { WriteBehindResult } from './write_behind';
import { fmtMs, fmtOps, fmtRatio, SMOKE } from './support';

const ORDER: ScenarioName[] = [
  'l1_hit',
  'decorator_hit',
  'redis_hit',
  'find_one',
  'write_behind',
  'stampede',
  'bus_latency',
];

/** Runs one scenario in a child process, its output shown as it comes; resolves to its result. */
function runScenario(name: ScenarioName, outDir: string): Promise<{ ms: number; result: unknown }> {
  const out = join(outDir, `${name}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', join(__dirname, 'child.ts'), name, out],
      { stdio: 'inherit', env: process.env },
    );
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`scenario ${name} failed (exit ${code ?? signal})`));
        return;
      }
      const r = JSON.parse(readFileSync(out, 'utf8')) as { ms: number; result: unknown };
      resolve(r);
    });
  });
}

/**
 * A fixed CPU-bound loop, timed a few times: how fast this machine runs plain JavaScript right
 * now. Run before and after the scenarios, its spread says how steady the machine was.
 */
function cpuProbe(): number[] {
  const times: number[] = [];
  // The first pass compiles the loop; only the later ones are kept.
  for (let r = -1; r < 5; r++) {
    const t = performance.now();
    let x = 0x9e3779b9;
    for (let i = 0; i < 20_000_000; i++) x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + i) | 0;
    if (r >= 0) times.push(performance.now() - t + (x === 42 ? 1e-9 : 0));
  }
  return times;
}

/** (max − min) ÷ median, as a percentage. */
function spread(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const med = sorted[Math.floor(sorted.length / 2)];
  return med > 0 ? ((sorted[sorted.length - 1] - sorted[0]) / med) * 100 : 0;
}

function arg(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i === -1 ? undefined : process.argv[i + 1];
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine =
    `Node ${process.version}, ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), ` +
    `${process.platform}/${process.arch}`;
  console.log(
    `cachekit benchmarks — ${machine}${SMOKE ? ' — SMOKE MODE (tiny iterations, figures meaningless)' : ''}`,
  );
  console.log('Numbers move with machine load; compare rows of one run, not runs of different days.');
  const only = arg('--only')?.split(',') as ScenarioName[] | undefined;
  const jsonPath = arg('--json') ?? join(__dirname, '..', '.bench-out', 'results.json');
  const outDir = join(dirname(jsonPath), 'scenarios');
  mkdirSync(outDir, { recursive: true });

  const loadBefore = loadavg()[0];
  const probeBefore = cpuProbe();
  const results: Partial<Record<ScenarioName, { ms: number; result: unknown }>> = {};
  for (const name of ORDER) {
    if (only && !only.includes(name)) continue;
    results[name] = await runScenario(name, outDir);
  }
  const probeAfter = cpuProbe();
  const loadAfter = loadavg()[0];
  if (only) {
    writeFileSync(jsonPath, JSON.stringify({ machine, smoke: SMOKE, results }, null, 2));
    console.log(`
JSON: ${jsonPath}`);
    return;
  }
  const l1 = results.l1_hit!.result as L1Result;
  const decorated = results.decorator_hit!.result as DecoratorHitResult;
  const redis = results.redis_hit!.result as RedisResult;
  const findOne = results.find_one!.result as FindOneResult;
  const writeBehind = results.write_behind!.result as WriteBehindResult;
  const stampede = results.stampede!.result as StampedeResult;
  const bus = results.bus_latency!.result as { p50: number; p99: number };

  const ck = (name: string) => redis.rows.find((r) => r.name === name)!;
  // The stampede targets hold for every cachekit row but the 2-process one without the lock, shown for contrast.
  const stampedeRows = stampede.rows.filter((r) => r.library === 'cachekit' && (r.processes === 1 || r.lock));
  const stampedeRuns = Math.max(...stampedeRows.flatMap((r) => r.loads));
  const slowest = stampedeRows.reduce((a, b) => (b.medianWallMs > a.medianWallMs ? b : a));
  const stampedeGoalMs = stampede.loaderMs + stampede.slackMs;
  const describe = (r: (typeof stampedeRows)[number]) =>
    `${r.mode}, ${r.processes} process${r.processes > 1 ? 'es' : ''}${r.lock ? ' + lock' : ''}`;
  const check = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const rows: string[][] = [
    [
      'L1 hit: cachekit default ÷ best competitor default',
      fmtRatio(l1.defaultRatio),
      '≥ 10×',
      check(l1.defaultRatio >= 10),
      `${fmtOps(l1.rows.find((r) => r.name.startsWith('cachekit getOrLoad (default)'))!.result.opsPerSec)} vs ` +
        `${fmtOps(l1.rows.find((r) => r.name === l1.bestCompetitor)!.result.opsPerSec)} ops/s (${l1.bestCompetitor})`,
    ],
    [
      'L1 hit: cachekit shared ÷ async Map getOrSet',
      fmtRatio(l1.sharedRatio),
      '≥ 0.5×',
      check(l1.sharedRatio >= 0.5),
      `${fmtOps(l1.rows.find((r) => r.name.startsWith('cachekit getOrLoad (shared)'))!.result.opsPerSec)} vs ` +
        `${fmtOps(l1.rows.find((r) => r.name.startsWith('async Map'))!.result.opsPerSec)} ops/s`,
    ],
    ...[decorated.numeric, decorated.object].map((g) => [
      `Decorated hit, ${g.arg} arg: cachekit default ÷ type-cacheable`,
      fmtRatio(g.ratioVsTypeCacheable),
      '≥ 10×',
      check(g.ratioVsTypeCacheable >= 10),
      `${fmtOps(g.cachekitDefault.result.opsPerSec)} vs ${fmtOps(g.typeCacheable.result.opsPerSec)} ops/s ` +
        `(${g.typeCacheable.name})`,
    ]),
    [
      'Redis hit: cachekit ÷ best competitor default',
      fmtRatio(redis.ratio),
      '≥ 1.2×',
      check(redis.ratio >= 1.2),
      `${fmtOps(ck('cachekit getOrLoad').best.opsPerSec)} vs ` +
        `${fmtOps(redis.rows.find((r) => r.name === redis.bestCompetitor)!.best.opsPerSec)} ops/s (${redis.bestCompetitor})`,
    ],
    [
      'Redis hit: cachekit +autopipelining ÷ best competitor, any config',
      fmtRatio(redis.tunedRatio),
      '(info)',
      '',
      `${fmtOps(ck('cachekit getOrLoad +autopipelining').best.opsPerSec)} vs ` +
        `${fmtOps(redis.rows.find((r) => r.name === redis.bestTunedCompetitor)!.best.opsPerSec)} ops/s (${redis.bestTunedCompetitor})`,
    ],
    ...findOneTargets(findOne, check),
    [
      'Stampede: most loader runs in one round, cachekit (1 process; 2 + lock)',
      String(stampedeRuns),
      '1',
      check(stampedeRuns === 1),
      stampedeRows.map((r) => `${describe(r)}: ${r.loads.join(' ')}`).join('; '),
    ],
    [
      'Stampede: slowest median wall time, cachekit (same rows)',
      fmtMs(slowest.medianWallMs),
      `≤ ${stampedeGoalMs} ms`,
      check(slowest.medianWallMs <= stampedeGoalMs),
      `${describe(slowest)}; loader ${stampede.loaderMs} ms`,
    ],
    [
      'Write-behind save ÷ repository.save (PostgreSQL, 16 writers)',
      fmtRatio(writeBehind.ratioVsSave),
      '≥ 10×',
      check(writeBehind.ratioVsSave >= 10),
      `${fmtOps(writeBehind.writeBehindAckOps)} vs ${fmtOps(writeBehind.directSaveOps)} updates/s; ` +
        `upsert ${fmtOps(writeBehind.directUpsertOps)}; flush lag p50 ${fmtMs(writeBehind.lagP50Ms)}, p99 ${fmtMs(writeBehind.lagP99Ms)}; ` +
        `flusher in a worker process ${fmtRatio(writeBehind.worker.ratioVsSave)}`,
    ],
    [
      `Write-behind save with batchSize ${writeBehind.small.batchSize.toLocaleString('en')} ÷ repository.save (info)`,
      fmtRatio(writeBehind.small.ratioVsSave),
      '(info)',
      '',
      `${fmtOps(writeBehind.small.ackOps)} updates/s; flush lag p50 ${fmtMs(writeBehind.small.lagP50Ms)}, ` +
        `p99 ${fmtMs(writeBehind.small.lagP99Ms)}: smaller batches flush sooner and coalesce less`,
    ],
    [
      "Invalidation reaches another instance's L1, p99 (p50)",
      fmtMs(bus.p99),
      '(info)',
      '',
      `p50 ${fmtMs(bus.p50)}; Redis pub/sub, private redis-server`,
    ],
  ];
  const table = markdownTable(['target', 'measured', 'goal', 'result', 'figures'], rows);
  console.log('\n=== Summary (targets are informational; exit code is 0 either way) ===\n');
  console.log(table);

  // How steady the machine was: the CPU probe before and after, and the spread of each
  // scenario's headline contestant between its rounds or passes.
  const probe = [...probeBefore, ...probeAfter];
  const drift = (median(probeAfter) / median(probeBefore) - 1) * 100;
  const l1Row = l1.rows.find((r) => r.name.startsWith('cachekit getOrLoad (default)'))!.result;
  const redisRow = redis.rows.find((r) => r.name === 'cachekit getOrLoad')!;
  const foRow = findOne.rows.find((r) => r.kind === 'redis')!;
  const noise: [string, number][] = [
    ['CPU probe, all 10 timings', spread(probe)],
    [
      'L1 hit, cachekit default, between rounds',
      spread([l1Row.minOpsPerSec, l1Row.opsPerSec, l1Row.maxOpsPerSec]),
    ],
    ['Redis hit, cachekit, between passes', spread(redisRow.passes.map((p) => p.opsPerSec))],
    ['findOne, cachekit Redis only, between passes', spread(foRow.passes.map((p) => p.opsPerSec))],
    ['write-behind, between rounds', spread(writeBehind.ackRange)],
  ];
  const worst = Math.max(...noise.map(([, v]) => v));
  const verdict = worst < 10 ? 'quiet' : worst < 30 ? 'somewhat noisy' : 'noisy: read the ratios with care';
  console.log(
    `\nNoise: ${verdict}. Load average ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}; ` +
      `CPU probe ${Math.abs(drift).toFixed(1)}% ${drift >= 0 ? 'slower' : 'faster'} after the scenarios than before. ` +
      'Spread (max − min) ÷ median:',
  );
  for (const [what, v] of noise) console.log(`  ${what}: ${v.toFixed(1)}%`);

  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(
    jsonPath,
    JSON.stringify(
      {
        machine,
        smoke: SMOKE,
        at: new Date().toISOString(),
        noise: {
          verdict,
          loadBefore,
          loadAfter,
          probeBefore,
          probeAfter,
          spreads: Object.fromEntries(noise),
        },
        summary: rows.map(([target, measured, goal, result, figures]) => ({
          target,
          measured,
          goal,
          result,
          figures,
        })),
        results,
      },
      null,
      2,
    ),
  );
  console.log(`\nJSON: ${jsonPath}`);
  if (process.argv.includes('--readme')) {
    updateReadme(table, `${machine}; ${new Date().toISOString().slice(0, 10)}; noise: ${verdict}`);
    console.log('README.md: benchmark table updated');
  }
  console.log(`\ntotal time ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A GitHub-flavoured markdown table; pipes inside cells are escaped. */
function markdownTable(head: string[], rows: string[][]): string {
  const cell = (c: string) => c.replace(/\|/g, '\\|');
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

const BEGIN = '<!-- bench:begin (npm run bench -- --readme rewrites this table) -->';
const END = '<!-- bench:end -->';

/** Replaces the README's table between the bench markers. */
function updateReadme(table: string, caption: string): void {
  const path = join(__dirname, '..', 'README.md');
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a === -1 || b < a) throw new Error(`README.md has no ${BEGIN} … ${END} markers`);
  const body = `${BEGIN}\n\nMeasured on ${caption}.\n\n${table}\n\n${END}`;
  writeFileSync(path, text.slice(0, a) + body + text.slice(b + END.length));
  // The table is written plain; the project's formatter aligns it, so `npm run lint` stays green.
  spawnSync(process.execPath, [require.resolve('prettier/bin/prettier.cjs'), '--write', path], {
    stdio: 'ignore',
  });
}

/** Summary rows of the findOne scenario: throughput ratios against TypeORM's cache, then stale reads. */
function findOneTargets(r: FindOneResult, check: (ok: boolean) => string): string[][] {
  const ops = (kind: string) => fmtOps(r.rows.find((x) => x.kind === kind)!.best.opsPerSec);
  return [
    [
      "findOne: cachekit query cache, Redis only ÷ TypeORM 'ioredis' cache",
      fmtRatio(r.redisRatio),
      '≥ 1×',
      check(r.redisRatio >= 1),
      `${ops('redis')} vs ${ops('builtin')} ops/s`,
    ],
    [
      "findOne: cachekit + L1, ck.repository(repo).findOne(options) ÷ TypeORM 'ioredis' cache",
      fmtRatio(r.l1Ratio),
      '≥ 10×',
      check(r.l1Ratio >= 10),
      `${ops('l1')} vs ${ops('builtin')} ops/s`,
    ],
    [
      "findOne: cachekit query-cache provider + L1 ÷ TypeORM 'ioredis' cache (info)",
      fmtRatio(r.providerL1Ratio),
      '-',
      '-',
      `any provider is capped at ${fmtRatio(r.ceilingRatio)} here (a Map: TypeORM builds SQL and hydrates per call)`,
    ],
    [
      'findOne: stale reads after save, cachekit (all rows)',
      String(r.cachekitStale),
      '0',
      check(r.cachekitStale === 0),
      `TypeORM's cache: ${r.builtinStale} of ${r.staleRounds}`,
    ],
  ];
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    // A crash is not a missed target: it should fail.
    process.exit(1);
  },
);
