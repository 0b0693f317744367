import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePostgres, requireRedis } from './support/services';

/*
 * The benchmarks are not part of the test suite, but they must not rot: this runs `npm run
 * bench` in smoke mode (every scenario, in its own process, for a tiny iteration) and checks
 * that each scenario produced its result and the summary came out whole. No figure is judged.
 */
describe('npm run bench (smoke mode)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cachekit-bench-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('every scenario runs and the summary table, noise report and JSON are produced', async () => {
    await requireRedis();
    await requirePostgres();
    const json = join(dir, 'results.json');
    const run = spawnSync('npm', ['run', '--silent', 'bench', '--', '--json', json], {
      cwd: join(__dirname, '..'),
      env: { ...process.env, CACHEKIT_BENCH_SMOKE: '1' },
      encoding: 'utf8',
      timeout: 240_000,
    });
    if (run.status !== 0) throw new Error(`bench exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
    expect(run.stdout).toContain('SMOKE MODE');
    expect(run.stdout).toMatch(/\| target \| measured \| goal \| result \| figures \|/);
    expect(run.stdout).toMatch(/^Noise: /m);

    const out = JSON.parse(readFileSync(json, 'utf8'));
    expect(out.smoke).toBe(true);
    expect(Object.keys(out.results).sort()).toEqual(
      ['bus_latency', 'decorator_hit', 'find_one', 'l1_hit', 'redis_hit', 'stampede', 'write_behind'].sort(),
    );
    for (const row of out.summary) {
      expect(row.measured).toMatch(/\d/);
      expect(['PASS', 'MISS', '', '-']).toContain(row.result);
    }
    expect(out.summary.map((r: { target: string }) => r.target)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^L1 hit/),
        expect.stringMatching(/^Decorated hit/),
        expect.stringMatching(/^Redis hit/),
        expect.stringMatching(/^findOne/),
        expect.stringMatching(/^Write-behind/),
        expect.stringMatching(/^Stampede/),
        expect.stringMatching(/^Invalidation reaches/),
      ]),
    );
    // Each scenario measured something: a throughput, a ratio or a latency above zero.
    expect(out.results.l1_hit.result.rows.length).toBeGreaterThan(3);
    expect(out.results.redis_hit.result.ratio).toBeGreaterThan(0);
    expect(out.results.find_one.result.redisRatio).toBeGreaterThan(0);
    expect(out.results.write_behind.result.writeBehindAckOps).toBeGreaterThan(0);
    expect(out.results.bus_latency.result.p50).toBeGreaterThan(0);
    expect(typeof out.noise.verdict).toBe('string');
  }, 300_000);
});
