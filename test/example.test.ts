import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { createConnection } from 'mysql2/promise';
import {
  DATABASE_URL,
  MYSQL_URL,
  REDIS_URL,
  requireMariaDb,
  requirePostgres,
  requireRedis,
} from './support/services';

const ROOT = join(__dirname, '..');
const TS_NODE = ['-r', 'ts-node/register/transpile-only'];

type Backend = 'embedded' | 'servers';

/** The environment of a run: no servers at all, or the shared PostgreSQL and Redis. */
function envFor(backend: Backend): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  if (backend === 'servers') Object.assign(env, { DATABASE_URL, REDIS_URL });
  return env;
}

async function requireServers(backend: Backend): Promise<void> {
  if (backend === 'servers') await Promise.all([requirePostgres(), requireRedis()]);
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...TS_NODE, ...args],
      { cwd: ROOT, env, encoding: 'utf8', timeout: 90_000 },
      (error, out, err) => resolve({ code: error ? ((error.code as number) ?? 1) : 0, out, err }),
    );
  });
}

/** The numbers a regular expression captured, or a failure naming the line that was expected. */
function numbers(out: string, re: RegExp): number[] {
  const m = re.exec(out);
  if (!m) throw new Error(`the report has no line matching ${re}:\n${out}`);
  return m.slice(1).map(Number);
}

/** The value of one sample of a Prometheus exposition, e.g. `cachekit_hits_total{namespace="_",layer="l1"}`. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no sample ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe.each<Backend>(['embedded', 'servers'])('the example shop (%s)', (backend) => {
  jest.setTimeout(120_000);

  test('npm run example: exits 0 and every feature leaves real numbers in the report', async () => {
    await requireServers(backend);
    const { code, out, err } = await run(['example-app/main.ts'], envFor(backend));
    expect({ code, err }).toEqual({ code: 0, err: '' });

    expect(out).toContain(
      backend === 'embedded'
        ? 'TypeORM on SQLite (in memory) + in-memory cache'
        : 'TypeORM on PostgreSQL + L1 + Redis',
    );
    // Startup warming, then the warmed pages cost nothing.
    expect(out).toContain('warmed 10/10 most viewed products');
    expect(out).toContain('the top 10 product pages right after: 0 loads (served warm)');
    // The hit ratio climbs as the cache fills.
    const [p1] = numbers(out, /phase 1: 400 requests, hit ratio ([\d.]+)%/);
    const [p3] = numbers(out, /phase 3: 400 requests, hit ratio ([\d.]+)%/);
    expect(p3).toBeGreaterThan(p1);
    // Sliding session: found by every read.
    const [reads] = numbers(out, /session of customer 1: found by all (\d+) reads/);
    expect(reads).toBeGreaterThan(0);
    // Price change: the page and the listing show the new price; write-through needs no load.
    expect(out).toContain('lamp 1: 12.50 -> 17.50');
    expect(out).toContain('product page now shows 17.50 (reloaded: 1 load)');
    expect(out).toContain('category listing now shows 17.50 (was 12.50)');
    expect(out).toContain('write-through: findOneById(1) = 17.50 with 0 database loads');
    expect(out).toMatch(/invalidation tags of that commit: .*row:Product:1/);
    // Category tag: one listing reloaded, the other untouched.
    expect(out).toContain(
      "invalidateTags([category:2]): its listing reloaded 1x, category 3's 0x (untouched)",
    );
    // A domain event drops every entry of the policy that listens to it (invalidate_on), and nothing before it.
    expect(out).toContain(
      'search "lamp": 0 loads while cached; after cache.emit(\'catalog.refresh\'), which the search_results policy listens to: reloaded 1x',
    );
    // Stampede and negative caching.
    expect(out).toMatch(
      /200 concurrent requests for [^\n]+ right after its entry was invalidated: 1 loader call\n/,
    );
    expect(out).toContain('5 requests for missing product 999999: result null, 1 loader call');
    // Orders invalidate the buyer's profile.
    const [ordersBefore, ordersAfter] = numbers(
      out,
      /customer 2's cached profile: (\d+) orders before, (\d+) after/,
    );
    expect(ordersAfter).toBeGreaterThan(ordersBefore);
    // Write-behind: the cache is ahead of the database until the flush, then they agree.
    const [cached, inDb, pending] = numbers(
      out,
      /before the flush: stock of lamp 1 is (\d+) in the cache, (\d+) in the database; (\d+) writes pending/,
    );
    expect(inDb).toBe(100);
    expect(cached).toBeLessThan(100);
    expect(pending).toBeGreaterThan(0);
    expect(numbers(out, /after the flush: (\d+) in the database/)).toEqual([cached]);
    const [acked, flushed, coalesced, batches] = numbers(
      out,
      /writes acknowledged (\d+), rows flushed (\d+), coalesced (\d+), batches (\d+)/,
    );
    expect(acked).toBe(pending);
    expect(flushed).toBeGreaterThan(0);
    expect(flushed + coalesced).toBe(acked);
    expect(batches).toBeGreaterThan(0);
    // Scheduled re-warm: the products that rose into the top 10 were loaded before anyone asked.
    expect(out).toContain('products 38, 39, 40 entered the top 10 after the flush');
    expect(out).toMatch(
      /the re-warm \(run \d+ of its schedule\) loaded them: requesting them now costs 0 loads/,
    );
    // Hit-ratio alert on the cold start, and its recovery.
    expect(out).toMatch(/WARNING: hit ratio 50\.0% over the last window/);
    expect(out).toMatch(/hit ratio recovered: /);
    // Summary tables.
    expect(out).toMatch(/browse 3 +\d+ +\d+ +[\d.]+% #+/);
    const [calls, loads, saved] = numbers(out, /\n {2}total +(\d+) +(\d+) +(\d+)\n/);
    expect(saved).toBe(calls - loads);
    expect(saved).toBeGreaterThan(0);
    const [events, tags] = numbers(out, /(\d+) invalidation events, (\d+) tags bumped/);
    expect(events).toBeGreaterThan(0);
    expect(tags).toBeGreaterThanOrEqual(events);

    if (backend === 'servers') {
      // Nothing is left on the shared servers.
      const [, schema, prefix, queue] =
        /schema (\S+), key prefix (\S+), queue (\S+) \(removed at exit\)/.exec(out)!;
      const pg = new Client({ connectionString: DATABASE_URL });
      await pg.connect();
      const schemas = await pg.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      await pg.end();
      expect(schemas.rowCount).toBe(0);
      const redis = new Redis(REDIS_URL);
      const [, left] = await redis.scan('0', 'MATCH', `*${prefix}*`, 'COUNT', 100_000);
      const [, leftQueue] = await redis.scan('0', 'MATCH', `*${queue}*`, 'COUNT', 100_000);
      await redis.quit();
      expect([...left, ...leftQueue]).toEqual([]);
    }
  });

  describe('--serve', () => {
    let child: ChildProcess;
    let url: string;
    let output = '';

    beforeAll(async () => {
      await requireServers(backend);
      child = spawn(process.execPath, [...TS_NODE, 'example-app/main.ts', '--serve', '--port', '0'], {
        cwd: ROOT,
        env: envFor(backend),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
      url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the server did not start:\n${output}`)), 60_000);
        const check = () => {
          const m = /listening on (http:\/\/\S+)/.exec(output);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        };
        child.stdout!.on('data', check);
        child.once('exit', (code) => reject(new Error(`the server exited (${code}):\n${output}`)));
      });
    });

    afterAll(async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    });

    const get = async (path: string) => {
      const res = await fetch(`${url}${path}`);
      return { status: res.status, body: (await res.json()) as any };
    };
    const post = async (path: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    const metrics = async () => {
      const res = await fetch(`${url}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      return res.text();
    };

    test('JSON endpoints answer, a price change shows at once, and /metrics counts the hits', async () => {
      const before = await metrics();
      const hitsBefore = sample(before, 'cachekit_hits_total{namespace="_",layer="l1"}');

      // Product 17 is not among the warmed top 10 (ids 1-10): one miss, then hits.
      expect(await get('/products/17')).toEqual({
        status: 200,
        body: { id: 17, name: 'desk 17', price: 5250, category: 'desks', categoryId: 2 },
      });
      for (let i = 0; i < 5; i++) expect((await get('/products/17')).body.price).toBe(5250);
      const after = await metrics();
      expect(sample(after, 'cachekit_hits_total{namespace="_",layer="l1"}')).toBeGreaterThanOrEqual(
        hitsBefore + 5,
      );
      expect(sample(after, 'cachekit_misses_total{namespace="_"}')).toBeGreaterThan(
        sample(before, 'cachekit_misses_total{namespace="_"}'),
      );
      const ratio = sample(after, 'cachekit_hit_ratio');
      expect(ratio).toBeGreaterThan(0);
      expect(ratio).toBeLessThanOrEqual(1);
      expect(sample(after, 'cachekit_l1_entries')).toBeGreaterThan(0);
      expect(sample(after, 'cachekit_load_duration_seconds_count{result="ok"}')).toBeGreaterThan(0);
      expect(after).toContain('# TYPE cachekit_write_behind_pending gauge');

      // A price change: the cached page shows it on the next request.
      expect((await post('/products/17/price', { price: 9999 })).body.price).toBe(9999);
      expect((await get('/products/17')).body.price).toBe(9999);
      expect((await get('/categories/2/products')).body.find((p: { id: number }) => p.id === 17).price).toBe(
        9999,
      );
      expect(sample(await metrics(), 'cachekit_invalidations_total')).toBeGreaterThan(
        sample(after, 'cachekit_invalidations_total'),
      );

      // Page views are write-behind counters; the flusher writes them within its delay.
      const v1 = (await post('/products/17/view')).body.views;
      expect((await post('/products/17/view')).body.views).toBe(v1 + 1);
      let flushed = 0;
      for (let i = 0; i < 50 && flushed === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        flushed = sample(await metrics(), 'cachekit_write_behind_flushed_total');
      }
      expect(flushed).toBeGreaterThan(0);

      expect((await get('/search?q=desk%201')).body.map((p: { name: string }) => p.name)).toContain(
        'desk 11',
      );
      expect(await get('/users/1')).toEqual({
        status: 200,
        body: { id: 1, name: 'customer 1', email: 'c1@shop.test', orders: 0 },
      });
      expect(await get('/products/999999')).toEqual({ status: 404, body: { error: 'product not found' } });
      expect((await get('/products/abc')).status).toBe(400);
      expect((await post('/products/17/price', { price: 'free' })).status).toBe(400);
      expect((await get('/nowhere')).status).toBe(404);
    });

    test('SIGTERM closes the shop and the process exits by itself with 0', async () => {
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('shop closed');
    });
  });
});

describe('npm run example:load', () => {
  jest.setTimeout(120_000);

  test('drives the server with autocannon and prints latency percentiles and the hit ratio', async () => {
    const { code, out, err } = await run(['example-app/load.ts', '--duration', '1'], envFor('embedded'));
    expect({ code, err }).toEqual({ code: 0, err: '' });
    const [total, errors, non2xx] = numbers(out, /requests: (\d+) \(\d+\/s\), errors (\d+), non-2xx (\d+)/);
    expect(total).toBeGreaterThan(0);
    expect(errors).toBe(0);
    expect(non2xx).toBe(0);
    const [p50, p99] = numbers(out, /latency: p50 ([\d.]+) ms, p99 ([\d.]+) ms/);
    expect(p99).toBeGreaterThanOrEqual(p50);
    const [ratio] = numbers(out, /cache hit ratio: ([\d.]+)%/);
    expect(ratio).toBeGreaterThan(0);
  });
});

describe('the example shop on MariaDB', () => {
  jest.setTimeout(120_000);

  test('npm run example runs its tour on MariaDB (mysql://) and drops its database at exit', async () => {
    await requireMariaDb();
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: MYSQL_URL };
    delete env.REDIS_URL;
    const { code, out, err } = await run(['example-app/main.ts'], env);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toContain('TypeORM on MariaDB + in-memory cache');
    expect(out).toContain('product page now shows 17.50 (reloaded: 1 load)');
    expect(out).toContain('write-through: findOneById(1) = 17.50 with 0 database loads');
    expect(out).toContain('after the flush: 72 in the database');
    const [, database] = /schema (\S+) \(removed at exit\)/.exec(out)!;
    const c = await createConnection(MYSQL_URL);
    const [rows] = await c.query('SHOW DATABASES LIKE ?', [database]);
    await c.end();
    expect(rows).toEqual([]);
  });
});
