import Redis from 'ioredis';
import type { ClaimResult } from '../../src';
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
  /** `write` for a claim that handed over a write. */
  const states = (claims: ClaimResult[]) => claims.map((c) => (typeof c === 'string' ? c : 'write'));
  const save = (q: RedisStreamQueue, key: string, n: number) =>
    q.append({ entity: 'Row', key, op: 'save', payload: JSON.stringify({ id: key, n }) });

  test('one holder per row; the holder re-claims; release and complete hand the row on', async () => {
    const { a, b } = pair();
    const v1 = await save(a, 'r1', 1);
    const v2 = await save(a, 'r2', 1);
    expect(states(await a.claim(['r1', 'r2']))).toEqual(['write', 'write']);
    expect(states(await b.claim(['r1', 'r2']))).toEqual(['busy', 'busy']);
    expect(states(await a.claim(['r1']))).toEqual(['write']);
    await a.release(['r1']);
    expect(states(await b.claim(['r1']))).toEqual(['write']);
    // b's release of a row it does not hold leaves a's lease alone.
    await b.release(['r2']);
    expect(states(await b.claim(['r2']))).toEqual(['busy']);
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
    await save(a, 'r1', 2);
    expect(states(await a.claim(['r1']))).toEqual(['busy']);
    expect(states(await b.claim(['r2']))).toEqual(['stale']);
  });

  test("a claim hands over the row's newest write, whichever entry was read; once it is written, the row is stale", async () => {
    const { a } = pair();
    await save(a, 'r', 1);
    const v2 = await save(a, 'r', 2);
    const [claimed] = await a.claim(['r']);
    expect(claimed).toEqual({ version: v2, op: 'save', payload: JSON.stringify({ id: 'r', n: 2 }) });
    expect(await a.complete([], [{ key: 'r', version: v2 }])).toEqual(['retired']);
    // The entry of the first save, read later (or by another consumer), has nothing left to write.
    expect(await a.claim(['r'])).toEqual(['stale']);
    // A write that came after the claim makes the completion report it as newer, and keeps it.
    const v3 = await save(a, 'r', 3);
    const [again] = await a.claim(['r']);
    const v4 = await save(a, 'r', 4);
    expect(again).toMatchObject({ version: v3 });
    expect(await a.complete([], [{ key: 'r', version: v3 }])).toEqual(['newer']);
    expect(await a.claim(['r'])).toEqual([expect.objectContaining({ version: v4 })]);
  });

  test('an expired lease is taken over by another consumer', async () => {
    const { a, b } = pair('300ms');
    await save(a, 'r', 1);
    expect(states(await a.claim(['r']))).toEqual(['write']);
    expect(states(await b.claim(['r']))).toEqual(['busy']);
    await sleep(450);
    expect(states(await b.claim(['r']))).toEqual(['write']);
    expect(states(await a.claim(['r']))).toEqual(['busy']);
  });

  test('a dead letter drops the lease of its consumer', async () => {
    const { a, b } = pair();
    const v = await save(a, 'r', 1);
    expect(states(await a.claim(['r']))).toEqual(['write']);
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
    expect(await b.claim(['r'])).toEqual([expect.objectContaining({ version: v2 })]);
    expect((await b.deadLetters()).map((d) => d.key)).toEqual(['r']);
  });

  test('one entry per append call: its writes share an ID, and acknowledging it takes all of them off the count, once', async () => {
    const { a } = pair();
    await Promise.all([save(a, 'x1', 1), save(a, 'x2', 1), save(a, 'x3', 1)]);
    expect(await admin.xlen(a.streamKey)).toBe(1);
    expect((await a.depth()).pending).toBe(3);
    const entries = await a.read(10, 50);
    expect(entries.map((e) => e.key)).toEqual(['x1', 'x2', 'x3']);
    expect(new Set(entries.map((e) => e.id)).size).toBe(1);
    // A dead letter acknowledges the entry for its three writes; a second acknowledgment of it
    // (another consumer that took it over meanwhile) changes nothing.
    await a.deadLetter({
      entity: 'Row',
      key: 'x1',
      op: 'save',
      version: entries[0].version,
      payload: '{}',
      error: 'e',
      attempts: 1,
      entries: [entries[0].id],
    });
    expect((await a.depth()).pending).toBe(0);
    expect(await a.complete([entries[0].id], [])).toEqual([]);
    await save(a, 'x4', 1);
    expect((await a.depth()).pending).toBe(1);
    // The dead letter names the stream entry itself.
    expect((await a.deadLetters())[0].entries).toEqual([entries[0].id.split('#')[0]]);
  });

  test('a queue written only by an earlier release (one write per entry, no count) is counted by its entries', async () => {
    const { a } = pair();
    await a.depth(); // creates the group
    for (let i = 0; i < 3; i++)
      await admin.xadd(
        a.streamKey,
        '*',
        'e',
        'Row',
        'k',
        `old${i}`,
        'o',
        'save',
        'v',
        String(i + 1),
        'p',
        '{}',
      );
    expect((await a.depth()).pending).toBe(3);
    const entries = await a.read(10, 50);
    expect(entries.map((e) => e.key)).toEqual(['old0', 'old1', 'old2']);
    expect((await a.depth()).pending).toBe(3);
    await a.complete(
      entries.slice(0, 2).map((e) => e.id),
      [],
    );
    expect((await a.depth()).pending).toBe(1);
  });

  test('completing a row already retired, or without a record, leaves it so', async () => {
    const { a } = pair();
    const v = await save(a, 'r', 1);
    expect(await a.complete([], [{ key: 'r', version: v }])).toEqual(['retired']);
    // A second completion of the same version finds the flushed marker: it stays one, and expires.
    expect(await a.complete([], [{ key: 'r', version: v }])).toEqual(['newer']);
    expect(await a.latest(['r'])).toEqual([{ flushed: true, version: v }]);
    expect(await admin.pttl(`cachekit:wb:{${names[names.length - 1]}}:r:r`)).toBeGreaterThan(0);
    // No record at all: none is left behind.
    expect(await a.complete([], [{ key: 'none', version: 1 }])).toEqual(['newer']);
    expect(await a.latest(['none'])).toEqual([undefined]);
  });

  test('a batch of 1,200 rows is claimed and completed in full, in order, every entry acknowledged', async () => {
    const { a } = pair();
    const rows = [];
    for (let i = 0; i < 1200; i++) rows.push({ key: `k${i}`, version: await save(a, `k${i}`, i) });
    const entries = [];
    while (entries.length < 1200) entries.push(...(await a.read(500, 50)));
    expect((await a.depth()).pending).toBe(1200);
    const claims = states(await a.claim(rows.map((r) => r.key)));
    expect(claims.filter((c) => c === 'write')).toHaveLength(1200);
    const b = new RedisStreamQueue({ client: admin, name: names[names.length - 1], consumer: 'b' });
    queues.push(b);
    // Leases on both sides of the completion's slices are a's.
    expect(states(await b.claim(['k7', 'k1100']))).toEqual(['busy', 'busy']);
    // A newer write of one row in a late slice: its answer must come back in its place.
    await save(a, 'k1000', -1);
    const done = await a.complete(
      entries.map((e) => e.id),
      rows,
    );
    expect(done).toHaveLength(1200);
    expect(done[1000]).toBe('newer');
    expect(done.filter((c) => c === 'retired')).toHaveLength(1199);
    // Every entry of the batch was acknowledged, whichever call carried it: only the newer write is left.
    expect((await a.depth()).pending).toBe(1);
    // …and its record is intact: the completion put it back as it was.
    const [newer] = await a.latest(['k1000']);
    expect(newer).toMatchObject({ op: 'save', version: rows[1199].version + 1 });
    expect(JSON.parse((newer as { payload: string }).payload)).toEqual({ id: 'k1000', n: -1 });
    expect(await admin.pttl(`cachekit:wb:{${names[names.length - 1]}}:r:k1000`)).toBe(-1);
    // Every lease was dropped with the completion: another consumer takes newer writes at once.
    const next = [
      { key: 'k7', version: await save(a, 'k7', 7) },
      { key: 'k1100', version: await save(a, 'k1100', 1100) },
    ];
    expect(states(await b.claim(next.map((r) => r.key)))).toEqual(['write', 'write']);
  });
});
