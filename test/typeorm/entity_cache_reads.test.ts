import 'reflect-metadata';
import { Column, type DataSource, Entity, PrimaryColumn, type Repository } from 'typeorm';
import { type Cache, Cacheable, CachePolicy } from '../../src';
import { CachedRepository } from '../../src/typeorm';
import { type Db, openTypeOrm, type TypeOrmFixture } from '../support/typeorm';

const ITEM_TABLE = `ecr_item_${process.pid}`;
const NONEG_TABLE = `ecr_noneg_${process.pid}`;
const PAIR_TABLE = `ecr_pair_${process.pid}`;

@Entity({ name: ITEM_TABLE })
class EcrItem {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  name!: string;
}

/** Missing rows of this entity are not cached at all. */
@CachePolicy({ negativeTtl: false })
@Entity({ name: NONEG_TABLE })
class EcrNoNegative {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  name!: string;
}

@Entity({ name: PAIR_TABLE })
class EcrPair {
  @PrimaryColumn('int')
  shop!: number;
  @PrimaryColumn('varchar')
  sku!: string;
  @Column()
  name!: string;
}

describe.each<Db>(['sqlite', 'postgres'])('entity cache reads (%s)', (db) => {
  let fixture: TypeOrmFixture;
  let ds: DataSource;
  let cache: Cache;
  let repo: Repository<EcrItem>;
  let items: CachedRepository<EcrItem>;
  /** SELECTs that reached the database, by statement. */
  let selects: string[] = [];

  beforeAll(async () => {
    fixture = await openTypeOrm(db, [EcrItem, EcrNoNegative, EcrPair], 'entity-cache-reads');
    ({ ds, cache } = fixture);
    repo = ds.getRepository(EcrItem);
    items = new CachedRepository(cache, repo);
    ds.subscribers.push({
      afterQuery: (e: { query: string }) => {
        if (/^\s*select/i.test(e.query)) selects.push(e.query);
      },
    } as never);
  });
  afterAll(() => fixture.close([ITEM_TABLE, NONEG_TABLE, PAIR_TABLE]));
  beforeEach(async () => {
    for (const E of [EcrItem, EcrNoNegative, EcrPair])
      await ds.createQueryBuilder().delete().from(E).execute();
    await repo.insert([1, 2, 3, 4, 5].map((id) => ({ id, name: `item${id}` })));
    await cache.clear();
    selects = [];
  });

  const names = (es: { name: string }[]) => es.map((e) => e.name);

  test('findByIds loads every miss with one query, in the order of the ids given', async () => {
    const got = await items.findByIds([4, 1, 5, 2, 3]);
    expect(names(got)).toEqual(['item4', 'item1', 'item5', 'item2', 'item3']);
    expect(got[0]).toBeInstanceOf(EcrItem);
    expect(selects).toHaveLength(1);
    // Now all cached, by id: neither call reaches the database.
    expect(names(await items.findByIds([3, 2]))).toEqual(['item3', 'item2']);
    expect((await items.findOneById(5))!.name).toBe('item5');
    expect(selects).toHaveLength(1);
  });

  test('hits come from the cache and only the misses are queried, still once', async () => {
    await items.findOneById(2);
    await items.findOneById(4);
    selects = [];
    const got = await items.findByIds([1, 2, 3, 4, 5]);
    expect(names(got)).toEqual(['item1', 'item2', 'item3', 'item4', 'item5']);
    expect(selects).toHaveLength(1);
    await items.findByIds([5, 4, 3, 2, 1]);
    expect(selects).toHaveLength(1);
  });

  test('missing ids are left out and negative-cached; repeated ids are repeated', async () => {
    expect(names(await items.findByIds([2, 99, 2, 98]))).toEqual(['item2', 'item2']);
    expect(selects).toHaveLength(1);
    expect(await items.findOneById(99)).toBeNull();
    expect(await items.findByIds([98, 99])).toEqual([]);
    expect(selects).toHaveLength(1);
    // An insert of a negatively cached id is a write to that row: the entry goes.
    await repo.insert({ id: 99, name: 'late' });
    expect(names(await items.findByIds([99, 98]))).toEqual(['late']);
  });

  test('an entity whose policy turns negative caching off: missing ids are asked again', async () => {
    const noneg = new CachedRepository(cache, ds.getRepository(EcrNoNegative));
    await ds.getRepository(EcrNoNegative).insert({ id: 1, name: 'one' });
    selects = [];
    expect(names(await noneg.findByIds([1, 2]))).toEqual(['one']);
    expect(names(await noneg.findByIds([1, 2]))).toEqual(['one']);
    expect(selects).toHaveLength(2); // id 1 was a hit, id 2 was asked again
  });

  test('batch-loaded entries are row-tagged: a committed write to one row drops only that one', async () => {
    await items.findByIds([1, 2, 3]);
    await repo.save({ id: 2, name: 'two' });
    selects = [];
    expect(names(await items.findByIds([1, 2, 3]))).toEqual(['item1', 'two', 'item3']);
    expect(selects).toHaveLength(1);
    await items.findByIds([1, 3]);
    expect(selects).toHaveLength(1);
  });

  test('a write committing while the batch query runs never leaves its stale rows cached', async () => {
    // A real subscriber holds the batch after its SELECT returned, before anything is stored.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = false;
    const holder = {
      listenTo: () => EcrItem,
      afterLoad: async () => {
        if (held) return;
        held = true;
        await gate;
      },
    };
    ds.subscribers.push(holder as never);
    try {
      const slow = items.findByIds([1, 2]);
      while (!held) await new Promise((r) => setTimeout(r, 5));
      await repo.update(1, { name: 'fresh' });
      release();
      expect(names(await slow)).toEqual(['item1', 'item2']); // read before the write
      expect(names(await items.findByIds([1, 2]))).toEqual(['fresh', 'item2']);
    } finally {
      ds.subscribers.splice(ds.subscribers.indexOf(holder as never), 1);
    }
  });

  test('composite keys: one query, input order, ids given in any key order', async () => {
    const pairs = new CachedRepository(cache, ds.getRepository(EcrPair));
    await ds.getRepository(EcrPair).insert([
      { shop: 1, sku: 'a', name: '1a' },
      { shop: 1, sku: 'b', name: '1b' },
      { shop: 2, sku: 'a', name: '2a' },
    ]);
    selects = [];
    const got = await pairs.findByIds([
      { sku: 'a', shop: 2 },
      { shop: 1, sku: 'a' },
      { shop: 9, sku: 'z' },
      { shop: 1, sku: 'b' },
    ]);
    expect(names(got)).toEqual(['2a', '1a', '1b']);
    expect(selects).toHaveLength(1);
    expect((await pairs.findOneById({ shop: 1, sku: 'b' }))!.name).toBe('1b');
    expect(await pairs.findOneById({ shop: 9, sku: 'z' })).toBeNull();
    expect(selects).toHaveLength(1);
  });

  describe('a @Cacheable method reading through the entity cache depends on the rows it got', () => {
    class Catalog {
      runs = 0;
      constructor(readonly cache: Cache) {}
      @Cacheable()
      async label(id: number) {
        this.runs++;
        return (await items.findOneById(id))?.name ?? 'none';
      }
      @Cacheable()
      async labels(ids: number[]) {
        this.runs++;
        return names(await items.findByIds(ids));
      }
    }

    test('findOneById served by a warm entity cache still tags the method entry', async () => {
      const catalog = new Catalog(cache);
      await items.findOneById(1); // warm: the method's read will be a hit
      await items.findOneById(7); // a warm negative entry too
      expect(await catalog.label(1)).toBe('item1');
      expect(await catalog.label(7)).toBe('none');
      await repo.update(1, { name: 'renamed' });
      await repo.insert({ id: 7, name: 'seven' });
      expect(await catalog.label(1)).toBe('renamed');
      expect(await catalog.label(7)).toBe('seven');
      expect(catalog.runs).toBe(4);
    });

    test('findByIds served by a warm entity cache still tags the method entry', async () => {
      const catalog = new Catalog(cache);
      await items.findByIds([1, 2, 8]); // warm, 8 as a negative entry: the method's read is all hits
      expect(await catalog.labels([1, 2, 8])).toEqual(['item1', 'item2']);
      await repo.save({ id: 1, name: 'one' });
      expect(await catalog.labels([1, 2, 8])).toEqual(['one', 'item2']);
      await repo.insert({ id: 8, name: 'eight' });
      expect(await catalog.labels([1, 2, 8])).toEqual(['one', 'item2', 'eight']);
      expect(catalog.runs).toBe(3);
    });
  });
});
