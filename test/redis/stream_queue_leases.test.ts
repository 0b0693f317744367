import Redis from 'ioredis';
import { RedisStreamQueue } from '../../src/redis';
import { deletePrefix, REDIS_URL, requireRedis, sleep, uniquePrefix } from '../support/services';

/*
 * The flushers' row leases of a RedisStreamQueue: two consumers never hold one row at once, a
 * consumer re-claims its own lease, releases and completions give it up, and an expired lease
 * (its holder presumed dead) is taken over.
 */
describe('RedisStreamQueue row leases', () => {
  const names: string[] = [];
  const queues: RedisStreamQueue[] = [];
  let admin: Redis;

  beforeAll(async () => {
    await requireRedis();
    admin = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    for (const q of queues) await q.close();
    for (const n of names) await deletePrefix(admin, `cachekit:wb:{${n}}`);
    await admin.quit();
  });

  /** Two consumers (two flusher instances) of one new queue. */
  const pair = (leaseTtl?: string) => {
    const name = uniquePrefix('wblease');
    names.push(name);
    const open = (consumer: string) => {
      const q = new RedisStreamQueue({ client: admin, name, consumer, ...(leaseTtl ? { leaseTtl } : {}) });
      queues.push(q);
      return q;
    };
    return { a: open('a'), b: open('b') };
  };
  const save = (q: RedisStreamQueue, key: string, n: number) =>
    q.append({ entity: 'Row', key, op: 'save', payload: JSON.stringify({ id: key, n }) });

  test('one holder per row; the holder re-claims; release and complete hand the row on', async () => {
    const { a, b } = pair();
    const v1 = await save(a, 'r1', 1);
    const v2 = await save(a, 'r2', 1);
    expect(
      await a.claim([
        { key: 'r1', version: v1 },
        { key: 'r2', version: v2 },
      ]),
    ).toEqual(['write', 'write']);
    expect(
      await b.claim([
        { key: 'r1', version: v1 },
        { key: 'r2', version: v2 },
      ]),
    ).toEqual(['busy', 'busy']);
    expect(await a.claim([{ key: 'r1', version: v1 }])).toEqual(['write']);
    await a.release(['r1']);
    expect(await b.claim([{ key: 'r1', version: v1 }])).toEqual(['write']);
    // b's release of a row it does not hold leaves a's lease alone.
    await b.release(['r2']);
    expect(await b.claim([{ key: 'r2', version: v2 }])).toEqual(['busy']);
    // Completing r2 retires its record and drops a's lease, and only a's.
    expect(
      await a.complete(
        [],
        [
          { key: 'r2', version: v2 },
          { key: 'r1', version: v1 },
        ],
      ),
    ).toEqual(['retired', 'retired']);
    // b's lease on r1 stays: a newer write of r1 is not a's to take yet.
    const v1b = await save(a, 'r1', 2);
    expect(await a.claim([{ key: 'r1', version: v1b }])).toEqual(['busy']);
    expect(await b.claim([{ key: 'r2', version: v2 }])).toEqual(['stale']);
  });

  test('an old version is stale; a newer write of the row is claimed at its own version', async () => {
    const { a } = pair();
    const v1 = await save(a, 'r', 1);
    const v2 = await save(a, 'r', 2);
    expect(
      await a.claim([
        { key: 'r', version: v1 },
        { key: 'r', version: v2 },
      ]),
    ).toEqual(['stale', 'write']);
    expect(await a.complete([], [{ key: 'r', version: v1 }])).toEqual(['newer']);
  });

  test('an expired lease is taken over by another consumer', async () => {
    const { a, b } = pair('300ms');
    const v = await save(a, 'r', 1);
    expect(await a.claim([{ key: 'r', version: v }])).toEqual(['write']);
    expect(await b.claim([{ key: 'r', version: v }])).toEqual(['busy']);
    await sleep(450);
    expect(await b.claim([{ key: 'r', version: v }])).toEqual(['write']);
    expect(await a.claim([{ key: 'r', version: v }])).toEqual(['busy']);
  });

  test('a dead letter drops the lease of its consumer', async () => {
    const { a, b } = pair();
    const v = await save(a, 'r', 1);
    expect(await a.claim([{ key: 'r', version: v }])).toEqual(['write']);
    const retired = await a.deadLetter({
      entity: 'Row',
      key: 'r',
      op: 'save',
      version: v,
      payload: '{}',
      error: 'refused',
      attempts: 1,
      entries: [],
    });
    expect(retired).toBe(true);
    // The row's record is retired and a's lease is gone: a newer write is b's to take.
    const v2 = await save(a, 'r', 2);
    expect(await b.claim([{ key: 'r', version: v2 }])).toEqual(['write']);
    expect((await b.deadLetters()).map((d) => d.key)).toEqual(['r']);
  });

  test('a batch of 1,200 rows is claimed and completed in full', async () => {
    const { a } = pair();
    const rows = [];
    for (let i = 0; i < 1200; i++) rows.push({ key: `k${i}`, version: await save(a, `k${i}`, i) });
    const claims = await a.claim(rows);
    expect(claims.filter((c) => c === 'write')).toHaveLength(1200);
    const b = new RedisStreamQueue({ client: admin, name: names[names.length - 1], consumer: 'b' });
    queues.push(b);
    // Leases on both sides of the completion's thousand-key slices are a's.
    expect(await b.claim([rows[7], rows[1100]])).toEqual(['busy', 'busy']);
    const done = await a.complete([], rows);
    expect(done.filter((c) => c === 'retired')).toHaveLength(1200);
    // Every lease was dropped with the completion: another consumer takes newer writes at once.
    const next = [
      { key: 'k7', version: await save(a, 'k7', 7) },
      { key: 'k1100', version: await save(a, 'k1100', 1100) },
    ];
    expect(await b.claim(next)).toEqual(['write', 'write']);
  });
});
