import { execFile } from 'node:child_process';
import { join } from 'node:path';

/*
 * The Nest application runs in a child process (see nest_app_child.ts: Jest cannot load the
 * ESM-only Nest 12 on Node 20). The child must exit by itself after app.close(): a handle left
 * open would keep it alive past the timeout below, and this suite fails.
 */
type Observed = Record<string, any>;

function runChild(): Promise<Observed> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', join(__dirname, 'nest_app_child.ts')],
      { cwd: join(__dirname, '..', '..'), timeout: 90_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          const why = err.killed ? 'did not exit by itself (an open handle?)' : `failed (${err.message})`;
          reject(new Error(`the Nest app process ${why}\n${stderr}\n${stdout}`));
          return;
        }
        const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
        if (line === undefined) reject(new Error(`no RESULT line\n${stdout}\n${stderr}`));
        else resolve(JSON.parse(line.slice('RESULT '.length)) as Observed);
      },
    );
  });
}

describe('NestJS: CachekitModule in a real application (PostgreSQL, Redis, supertest)', () => {
  let r: Observed;
  beforeAll(async () => {
    r = await runChild();
  }, 100_000);

  test('forRootAsync builds the cache from a ConfigService-like provider (its prefix is in Redis)', () => {
    expect(r.settingsReads).toEqual(['prefix', 'redisUrl']);
    expect(r.probeInRedis).toBe(1);
  });

  test('a @Cacheable service method resolves the module cache: the second GET does not run it; a write through the service is seen', () => {
    expect(r.serviceCallsAfterTwoGets).toBe(1);
    expect(r.putStatus).toBe(200);
    expect(r.productBodies).toEqual([
      { id: 1, name: 'lamp' },
      { id: 1, name: 'lamp' },
      { id: 1, name: 'lamp v2' },
    ]);
    expect(r.serviceCallsAfterWrite).toBe(2);
  });

  test('the subscriber and the query cache are attached to the DataSource of @nestjs/typeorm, once', () => {
    expect(r.queryCacheOnDefault).toBe(true);
    expect(r.subscriberCounts).toEqual([1, 1]);
  });

  test('CacheRouteInterceptor caches a GET by route, params and query; the same TypeORM write invalidates it', () => {
    expect(r.routeCallsAfterTwoGets).toBe(1);
    expect(r.routeCallsAfterOtherQuery).toBe(2);
    expect(r.catalogBodies).toEqual([
      { id: 2, name: 'desk', v: null },
      { id: 2, name: 'desk', v: null },
      { id: 2, name: 'desk', v: 'a' },
      { id: 2, name: 'desk v2', v: null },
    ]);
    expect(r.routeCallsAfterWrite).toBe(3);
  });

  test('a route without tags is invalidated by a write to the rows its handler read (dependency capture)', () => {
    expect(r.autoCallsBeforeWrite).toBe(1);
    expect(r.autoBodies).toEqual([
      { id: 1, name: 'lamp' },
      { id: 1, name: 'lamp v2' },
    ]);
    expect(r.autoCallsAfterWrite).toBe(2);
  });

  test('interpolated route tags invalidate; errors are never cached; @NoCache passes through', () => {
    expect(r.routeCallsAfterTagInvalidation).toBe(4);
    expect(r.errorStatuses).toEqual([404, 404]);
    expect(r.routeCallsAfterErrors).toBe(6);
    expect(r.liveCalls).toBe(2);
  });

  test("Nest's decorators on a @Cacheable method keep working: the guard reads @Roles, the route answers, cached", () => {
    expect(r.guarded).toEqual([403, 200, 200, { id: '7' }]);
    expect(r.guardedCalls).toBe(1);
  });

  test('a named cache is its own Cache, injected with @InjectCache(name) and used by that service', () => {
    expect(r.namedIsOther).toBe(true);
    expect(r.reportCallsAfterDefaultInvalidation).toBe(1);
    expect(r.reportCallsAfterNamedInvalidation).toBe(2);
  });

  test('a named DataSource gets its own cache wired: its writes invalidate that cache', () => {
    expect(r.auditAttached).toBe(true);
    expect(r.noteLoads).toBe(2);
  });

  test('app.close() with shutdown hooks flushes write-behind, detaches, closes the cache, leaves no open handle', () => {
    expect(r.cartFromCache).toEqual({ id: 1, items: 'apple,pear' });
    expect(r.cartInDbBeforeClose).toBeNull();
    expect(r.cartInDbAfterClose).toEqual({ items: 'apple,pear' });
    expect(r.writeBehindClosed).toBe(true);
    expect(r.subscribersAfterClose).toBe(0);
    // A closed cache still answers through the loader.
    expect(r.readAfterClose).toBe('loader ran');
  });
});
