import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extractSamples } from './readme/extract_samples';
import { DATABASE_URL, requirePostgres, startPrivateRedis, type PrivateRedis } from './support/services';

/*
 * Every code sample in README.md is compiled (tsc, the package's own settings) and run, so that
 * none can rot. Samples run against a private redis-server (REDIS_URL points at it) and the
 * test PostgreSQL; a sample fails the test by not compiling, by throwing, or by not finishing.
 */
const ROOT = join(__dirname, '..');
const DIR = join(__dirname, '.readme-samples');
const samples = extractSamples(readFileSync(join(ROOT, 'README.md'), 'utf8'), join(ROOT, 'src'));

describe('README code samples', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    await requirePostgres();
    redis = await startPrivateRedis();
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    for (const s of samples) writeFileSync(join(DIR, `sample-${s.line}.ts`), s.source);
    writeFileSync(
      join(DIR, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../tsconfig.json',
        include: ['*.ts'],
        compilerOptions: { rootDir: '../..' },
      }),
    );
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(DIR, { recursive: true, force: true });
  });

  test('there are samples, and every one compiles', () => {
    expect(samples.length).toBeGreaterThanOrEqual(4);
    const tsc = spawnSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', join(DIR, 'tsconfig.json')],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    if (tsc.status !== 0) throw new Error(`README samples do not compile:\n${tsc.stdout}${tsc.stderr}`);
  }, 120_000);

  test.each(samples.map((s) => [`line ${s.line} (${s.heading})`, s] as const))(
    '%s runs',
    (_, s) => {
      const run = spawnSync(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', join(DIR, `sample-${s.line}.ts`)],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 60_000,
          env: { ...process.env, REDIS_URL: redis.url, DATABASE_URL },
        },
      );
      if (run.status !== 0) {
        throw new Error(
          `README sample at line ${s.line} exited ${run.status ?? run.signal}:\n${run.stdout}${run.stderr}`,
        );
      }
    },
    90_000,
  );
});
