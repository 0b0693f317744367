import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pkg from '../package.json';

describe('package layout', () => {
  test('exports the engine, the Redis store and the Keyv store as subpaths', () => {
    expect(Object.keys(pkg.exports)).toEqual(
      expect.arrayContaining(['.', './redis', './keyv', './typeorm', './config', './prometheus']),
    );
  });

  test('ioredis, keyv, typeorm and prom-client are optional peer dependencies, not dependencies', () => {
    for (const peer of ['ioredis', 'keyv', 'typeorm', 'prom-client']) {
      expect(pkg.peerDependencies).toHaveProperty(peer);
      expect(pkg.peerDependenciesMeta).toHaveProperty([peer, 'optional'], true);
      expect((pkg as { dependencies: Record<string, string> }).dependencies).not.toHaveProperty(peer);
    }
  });

  test('the main entry loads none of the optional peers', () => {
    const script = `
      require('./src');
      const loaded = Object.keys(require.cache).filter((k) => /node_modules\\/(ioredis|keyv|@keyv|typeorm|prom-client)\\//.test(k));
      process.stdout.write(JSON.stringify(loaded));`;
    const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: join(__dirname, '..'),
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual([]);
  });

  test('cachekit/prometheus loads prom-client, and only it of the optional peers', () => {
    const script = `
      require('./src/prometheus');
      const loaded = Object.keys(require.cache).map((k) => /node_modules\\/(ioredis|keyv|@keyv|typeorm|prom-client)\\//.exec(k)?.[1]).filter(Boolean);
      process.stdout.write(JSON.stringify([...new Set(loaded)]));`;
    const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: join(__dirname, '..'),
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual(['prom-client']);
  });
});
