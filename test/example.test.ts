import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

describe('the example app (README command 1)', () => {
  test('runs on embedded defaults, exits 0, and shows a write invalidating what it should', () => {
    const env = { ...process.env };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    const out = execFileSync(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', 'example-app/main.ts'],
      {
        cwd: join(__dirname, '..'),
        encoding: 'utf8',
        env,
        timeout: 60_000,
      },
    );
    expect(out).toContain('TypeORM on SQLite (in memory), cache in memory');
    expect(out).toMatch(/priceOf\(item1\) = 999, priceList\(lamps\) starts "item1 999": both reloaded/);
    expect(out).toMatch(/item1 = 999 \(written through\), item2 = 11 \(row-tagged, untouched\): 0 loads/);
    expect(out).toContain('after a rolled-back update: priceOf(item1) = 999');
    expect(out).toContain('3 reads of a missing product cost 1 database read(s)');
  });
});
