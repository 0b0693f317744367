import 'reflect-metadata';
import { Column, Entity, PrimaryColumn, type DataSource, type Repository } from 'typeorm';
import { type Cache, Cacheable } from '../../src';
import { CachedRepository } from '../../src/typeorm';
import { type Db, openTypeOrm, type TypeOrmFixture } from '../support/typeorm';

const TABLE = `ck_conc_counter_${process.pid}`;
const ROWS = 20;
const RUN_MS = 3000;

@Entity({ name: TABLE })
class Counter {
  @PrimaryColumn('int')
  id!: number;
  @Column('int')
  version!: number;
}

/**
 * 20 readers through three cached read paths against 5 writers on PostgreSQL and on MariaDB. Once writes stop
 * and every commit has returned, no cached read may differ from the database: no stale set
 * survives. Reads that returned a version older than one already committed when they began are
 * counted and printed (single-flight joiners of a load that started before a write can see them).
 */
describe.each<Db>(['postgres', 'mariadb'])('readers and writers at once on %s', (db) => {
  let fixture: TypeOrmFixture;
  let ds: DataSource;
  let cache: Cache;
  let repo: Repository<Counter>;

  class Reader {
    constructor(readonly cache: Cache) {}
    @Cacheable({ ttl: '1h' })
    async version(id: number) {
      return (await repo.findOneByOrFail({ id })).version;
    }
  }

  beforeAll(async () => {
    fixture = await openTypeOrm(db, [Counter], 'concurrency');
    ({ ds, cache } = fixture);
    repo = ds.getRepository(Counter);
    await repo.save(Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, version: 0 })));
  });
  afterAll(() => fixture.close([TABLE]));

  test('after writes settle, every cached read equals the database', async () => {
    const reader = new Reader(cache);
    const byId = new CachedRepository(cache, repo);
    const listed = async () =>
      new Map((await repo.find({ order: { id: 'ASC' }, cache: 3_600_000 })).map((c) => [c.id, c.version]));
    const committed = new Array<number>(ROWS + 1).fill(0);
    let stale = 0;
    let reads = 0;
    let writes = 0;
    const until = Date.now() + RUN_MS;
    const pick = () => 1 + Math.floor(Math.random() * ROWS);

    const writers = Array.from({ length: 5 }, async () => {
      while (Date.now() < until) {
        const id = pick();
        const v = await ds.transaction(async (em) => {
          const row = await em.findOne(Counter, { where: { id }, lock: { mode: 'pessimistic_write' } });
          row!.version += 1;
          await em.save(row!);
          return row!.version;
        });
        committed[id] = Math.max(committed[id], v);
        writes++;
      }
    });
    const readers = Array.from({ length: 20 }, async (_, r) => {
      while (Date.now() < until) {
        const id = pick();
        const floor = committed[id];
        const path = r % 3;
        const v =
          path === 0
            ? await reader.version(id)
            : path === 1
              ? (await byId.findOneById(id))!.version
              : (await listed()).get(id)!;
        reads++;
        if (v < floor) stale++;
        // Real readers arrive through I/O; without a yield, L1 hits starve the writers' sockets.
        await new Promise((r) => setImmediate(r));
      }
    });
    await Promise.all([...writers, ...readers]);

    const truth = new Map((await repo.find()).map((c) => [c.id, c.version]));
    const viaList = await listed();
    for (let id = 1; id <= ROWS; id++) {
      expect(await reader.version(id)).toBe(truth.get(id));
      expect((await byId.findOneById(id))!.version).toBe(truth.get(id));
      expect(viaList.get(id)).toBe(truth.get(id));
    }
    expect(writes).toBeGreaterThan(20);
    expect(reads).toBeGreaterThan(100);
    console.log(
      `concurrency (${db}): ${reads} cached reads, ${writes} writes, ${stale} reads older than a write committed before they began`,
    );
  });
});
