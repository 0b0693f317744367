import 'reflect-metadata';
import {
  Column,
  DataSource,
  DeleteDateColumn,
  Entity,
  JoinTable,
  ManyToMany,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Repository,
} from 'typeorm';
import { anyRowTag, type Cache, rowTag, tableTag } from '../../src';
import { registerInvalidation } from '../../src/typeorm';
import { DATABASE_URL, requirePostgres } from '../support/services';
import { openStack, type StackHandle } from '../support/stacks';

const TABLE = `ck_inv_product_${process.pid}`;
const CATEGORY_TABLE = `ck_inv_category_${process.pid}`;
const LABEL_TABLE = `ck_inv_label_${process.pid}`;

@Entity({ name: CATEGORY_TABLE })
class Category {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
}

@Entity({ name: LABEL_TABLE })
class Label {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
}

@Entity({ name: TABLE })
class Product {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
  @Column('int')
  price!: number;
  @DeleteDateColumn({ nullable: true })
  deletedAt?: Date | null;
  @ManyToOne(() => Category, { nullable: true, onDelete: 'CASCADE' })
  category?: Category | null;
  @ManyToMany(() => Label)
  @JoinTable({ name: `ck_inv_product_label_${process.pid}` })
  labels?: Label[];
}

type Db = 'sqlite' | 'postgres';

async function open(db: Db): Promise<DataSource> {
  if (db === 'postgres') await requirePostgres();
  const ds = new DataSource(
    db === 'sqlite'
      ? {
          type: 'better-sqlite3',
          database: ':memory:',
          entities: [Product, Category, Label],
          synchronize: true,
        }
      : { type: 'postgres', url: DATABASE_URL, entities: [Product, Category, Label], synchronize: true },
  );
  return ds.initialize();
}

describe.each<Db>(['sqlite', 'postgres'])('commit-aware invalidation on %s', (db) => {
  let ds: DataSource;
  let repo: Repository<Product>;
  let stack: StackHandle;
  let cache: Cache;
  let loads = 0;

  /** A cached list query: depends on the table. */
  const list = () =>
    cache.getOrLoad('list', async () => (loads++, repo.find({ order: { id: 'ASC' } })), {
      tags: [tableTag(Product)],
    });
  /** A cached row by id: depends on that row, and on writes whose rows are unknown. */
  const byId = (id: number) =>
    cache.getOrLoad(['byId', id], async () => (loads++, repo.findOneBy({ id })), {
      tags: [rowTag(Product, id), anyRowTag(Product)],
      // Explicit tags only: these tests check the subscriber's row precision, and capture
      // would add the table tag of the SELECT.
      captureDependencies: false,
    });
  const prices = async () => (await list()).map((p) => `${p.name}:${p.price}`);

  beforeAll(async () => {
    ds = await open(db);
    repo = ds.getRepository(Product);
    stack = await openStack('l1+redis', `typeorm-${db}`);
    cache = stack.makeCache();
    registerInvalidation(ds, cache, { onError: (e) => console.error(e) });
  });
  afterAll(async () => {
    if (db === 'postgres') {
      for (const t of [`ck_inv_product_label_${process.pid}`, TABLE, CATEGORY_TABLE, LABEL_TABLE]) {
        await ds.query(`DROP TABLE IF EXISTS "${t}" CASCADE`);
      }
    }
    await ds.destroy();
    await stack.cleanup();
  });
  beforeEach(async () => {
    await ds.query(`DELETE FROM "ck_inv_product_label_${process.pid}"`);
    await repo.createQueryBuilder().delete().execute();
    await ds.getRepository(Category).createQueryBuilder().delete().execute();
    await ds.getRepository(Label).createQueryBuilder().delete().execute();
    await cache.clear();
    await repo.insert([
      { name: 'a', price: 1 },
      { name: 'b', price: 2 },
    ]);
  });

  const ids = async () => (await repo.find({ order: { id: 'ASC' } })).map((p) => p.id);

  test('save (insert and update) invalidates after commit', async () => {
    expect(await prices()).toEqual(['a:1', 'b:2']);
    await repo.save(repo.create({ name: 'c', price: 3 }));
    expect(await prices()).toEqual(['a:1', 'b:2', 'c:3']);
    const [idA] = await ids();
    const a = (await byId(idA))!;
    a.price = 10;
    await repo.save(a);
    expect(await prices()).toEqual(['a:10', 'b:2', 'c:3']);
    expect((await byId(idA))!.price).toBe(10);
  });

  test('a write to one row leaves other rows cached', async () => {
    const [idA, idB] = await ids();
    await byId(idA);
    await byId(idB);
    const before = loads;
    const b = (await byId(idB))!;
    b.price = 20;
    await repo.save(b);
    await byId(idA);
    expect(loads).toBe(before); // row A still cached
    expect((await byId(idB))!.price).toBe(20);
    expect(loads).toBe(before + 1);
  });

  test('repo.update and QueryBuilder update (no ids, no transaction) invalidate the table and every row', async () => {
    const [idA, idB] = await ids();
    await prices();
    await byId(idA);
    await repo.update({ name: 'a' }, { price: 5 });
    expect(await prices()).toEqual(['a:5', 'b:2']);
    expect((await byId(idA))!.price).toBe(5);
    await byId(idB);
    await repo.createQueryBuilder().update().set({ price: 7 }).where('name = :n', { n: 'b' }).execute();
    expect((await byId(idB))!.price).toBe(7);
    expect(await prices()).toEqual(['a:5', 'b:7']);
  });

  test('delete, remove and softRemove invalidate', async () => {
    const [idA, idB] = await ids();
    await prices();
    await byId(idA);
    await repo.delete(idA);
    expect(await prices()).toEqual(['b:2']);
    expect(await byId(idA)).toBeNull();
    const b = (await byId(idB))!;
    await repo.softRemove(b);
    expect(await prices()).toEqual([]);
    expect(await byId(idB)).toBeNull();
    await repo.insert({ name: 'z', price: 9 });
    const z = (await repo.findOneBy({ name: 'z' }))!;
    expect(await prices()).toEqual(['z:9']);
    await repo.remove(z);
    expect(await prices()).toEqual([]);
  });

  test('nothing is invalidated before COMMIT, everything right after it', async () => {
    const [idA] = await ids();
    await prices();
    await byId(idA);
    const before = loads;
    await ds.transaction(async (em) => {
      await em.update(Product, { id: idA }, { price: 100 });
      await em.save(em.create(Product, { name: 'new', price: 3 }));
      // Still inside the transaction: the cache must not have moved (a reader reloading now
      // would cache the old committed state under a fresh version).
      expect(await prices()).toEqual(['a:1', 'b:2']);
      expect((await byId(idA))!.price).toBe(1);
      expect(loads).toBe(before);
    });
    expect(await prices()).toEqual(['a:100', 'b:2', 'new:3']);
    expect((await byId(idA))!.price).toBe(100);
  });

  test('a rolled-back transaction invalidates nothing', async () => {
    const [idA] = await ids();
    await prices();
    await byId(idA);
    const before = loads;
    const versions = cache.stats().invalidations;
    await expect(
      ds.transaction(async (em) => {
        await em.save(em.create(Product, { name: 'ghost', price: 0 }));
        await em.update(Product, { id: idA }, { price: 99 });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await prices()).toEqual(['a:1', 'b:2']);
    expect((await byId(idA))!.price).toBe(1);
    expect(loads).toBe(before);
    expect(cache.stats().invalidations).toBe(versions);
  });

  test('a rolled-back savepoint inside a committed transaction: only the kept writes invalidate', async () => {
    const [idA, idB] = await ids();
    await byId(idA);
    await byId(idB);
    const qr = ds.createQueryRunner();
    await qr.connect();
    try {
      await qr.startTransaction();
      await qr.manager.update(Product, { id: idA }, { price: 11 });
      await qr.startTransaction(); // SAVEPOINT
      await qr.manager.save(Object.assign(new Product(), { id: idB, name: 'b', price: 22 }));
      await qr.rollbackTransaction(); // ROLLBACK TO SAVEPOINT
      await qr.startTransaction(); // SAVEPOINT
      await qr.manager.save(qr.manager.create(Product, { name: 'kept', price: 33 }));
      await qr.commitTransaction(); // RELEASE SAVEPOINT: still nothing visible
      expect((await byId(idA))!.price).toBe(1);
      await qr.commitTransaction(); // COMMIT
    } finally {
      await qr.release();
    }
    expect((await byId(idA))!.price).toBe(11);
    expect(await prices()).toEqual(['a:11', 'b:2', 'kept:33']);
  });

  test('raw SQL writes invalidate their tables after commit, and not on rollback', async () => {
    const [idA] = await ids();
    await prices();
    await byId(idA);
    await ds.query(`UPDATE "${TABLE}" SET price = 50 WHERE name = 'a'`);
    expect(await prices()).toEqual(['a:50', 'b:2']);
    expect((await byId(idA))!.price).toBe(50);
    await expect(
      ds.transaction(async (em) => {
        await em.query(`UPDATE "${TABLE}" SET price = 60`);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const before = loads;
    expect(await prices()).toEqual(['a:50', 'b:2']);
    expect(loads).toBe(before);
    await ds.transaction((em) => em.query(`DELETE FROM "${TABLE}" WHERE name = 'b'`));
    expect(await prices()).toEqual(['a:50']);
  });

  test('many-to-many add and remove invalidate the junction table', async () => {
    const junction = ds.getMetadata(Product).manyToManyRelations[0].junctionEntityMetadata!.name;
    const [idA] = await ids();
    const labels = await ds.getRepository(Label).save([{ name: 'red' }, { name: 'blue' }]);
    const withLabels = () =>
      cache.getOrLoad(
        ['labels', idA],
        async () => {
          loads++;
          const p = await repo.findOne({ where: { id: idA }, relations: { labels: true } });
          return (p?.labels ?? []).map((l) => l.name).sort();
        },
        { tags: [tableTag(junction)] }, // only the junction: the test shows its own invalidation
      );
    expect(await withLabels()).toEqual([]);
    const p = (await repo.findOne({ where: { id: idA }, relations: { labels: true } }))!;
    p.labels = labels;
    await repo.save(p);
    expect(await withLabels()).toEqual(['blue', 'red']);
    await repo.createQueryBuilder().relation(Product, 'labels').of(idA).remove(labels[0].id);
    expect(await withLabels()).toEqual(['blue']);
  });

  test('deleting a parent invalidates the child table that ON DELETE CASCADE empties', async () => {
    const cat = await ds.getRepository(Category).save({ name: 'shoes' });
    await repo.save(repo.create({ name: 'boot', price: 80, category: cat }));
    expect(await prices()).toEqual(['a:1', 'b:2', 'boot:80']);
    await ds.getRepository(Category).delete(cat.id);
    expect(await prices()).toEqual(['a:1', 'b:2']);
  });

  test('insert, QueryBuilder insert and upsert invalidate', async () => {
    await prices();
    await repo.insert({ name: 'c', price: 3 });
    expect(await prices()).toEqual(['a:1', 'b:2', 'c:3']);
    await repo.createQueryBuilder().insert().values({ name: 'd', price: 4 }).execute();
    expect(await prices()).toEqual(['a:1', 'b:2', 'c:3', 'd:4']);
    const [idA] = await ids();
    await byId(idA);
    await repo.upsert({ id: idA, name: 'a', price: 42 }, ['id']);
    // What an upsert on a generated key does differs by driver; the cache must equal the DB.
    const truth = await repo.find({ order: { id: 'ASC' } });
    expect(await prices()).toEqual(truth.map((p) => `${p.name}:${p.price}`));
    expect((await byId(idA))!.price).toBe(truth.find((p) => p.id === idA)!.price);
  });

  test('a multi-row insert outside a transaction is one invalidation, covering every row it wrote', async () => {
    const calls: string[][] = [];
    const invalidateTags = cache.invalidateTags.bind(cache);
    cache.invalidateTags = (tags, ...rest) => {
      calls.push([...tags]);
      return invalidateTags(tags, ...rest);
    };
    try {
      await prices();
      await repo.insert(Array.from({ length: 50 }, (_, i) => ({ name: `n${i}`, price: i })));
      // TypeORM fires one event per row; they are flushed together.
      expect(calls).toHaveLength(1);
      const tags = new Set(calls[0]);
      expect(tags.has(tableTag(Product))).toBe(true);
      const inserted = (await repo.find({ order: { id: 'ASC' } })).slice(2);
      expect(inserted).toHaveLength(50);
      for (const p of inserted)
        expect(tags.has(rowTag(Product, p.id)) || tags.has(anyRowTag(Product))).toBe(true);
      expect(await prices()).toHaveLength(52);
    } finally {
      cache.invalidateTags = invalidateTags;
    }
  });

  test('softDelete, restore and recover invalidate', async () => {
    const [idA, idB] = await ids();
    await prices();
    await byId(idA);
    await repo.softDelete(idA);
    expect(await prices()).toEqual(['b:2']);
    expect(await byId(idA)).toBeNull();
    await repo.restore(idA);
    expect(await prices()).toEqual(['a:1', 'b:2']);
    expect((await byId(idA))!.price).toBe(1);
    const b = (await repo.findOneBy({ id: idB }))!;
    await repo.softRemove(b);
    expect(await prices()).toEqual(['a:1']);
    const removed = (await repo.findOne({ where: { id: idB }, withDeleted: true }))!;
    await repo.recover(removed);
    expect(await prices()).toEqual(['a:1', 'b:2']);
    expect((await byId(idB))!.price).toBe(2);
  });
});
