import 'reflect-metadata';
import {
  Column,
  type DataSource,
  DeleteDateColumn,
  Entity,
  type EntityManager,
  JoinTable,
  ManyToMany,
  ManyToOne,
  MoreThanOrEqual,
  PrimaryColumn,
} from 'typeorm';
import { type Cache, Cacheable, CachePolicy } from '../../src';
import { CachedRepository } from '../../src/typeorm';
import type { StackKind } from '../support/stacks';
import { type Db, openTypeOrm, type TypeOrmFixture } from '../support/typeorm';

/*
 * The write-path matrix of the TypeORM plugin: every write path × {committed, rolled back} ×
 * every cached reader, on SQLite and PostgreSQL with L1 + Redis. Each cell primes its reader
 * (and proves the second read is a hit: it reaches the database zero times), performs the write,
 * then checks that the reader returns what an uncached query returns. A rolled-back write must
 * leave the reader a hit with the old state, and bump no tag at all.
 *
 * Shared by the test files that run it: write_path_matrix.test.ts (single Redis) and
 * write_path_matrix_cluster.test.ts (Redis Cluster).
 */

const PID = process.pid;
const CATEGORY_TABLE = `wpm_category_${PID}`;
const LABEL_TABLE = `wpm_label_${PID}`;
const PRODUCT_TABLE = `wpm_product_${PID}`;
const WT_PRODUCT_TABLE = `wpm_wt_product_${PID}`;

@Entity({ name: CATEGORY_TABLE })
class WpmCategory {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  name!: string;
}

@Entity({ name: LABEL_TABLE })
class WpmLabel {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  name!: string;
}

/** Both product entities share this shape, so every write path runs against either. */
abstract class WpmProductShape {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  name!: string;
  @Column('int')
  price!: number;
  @DeleteDateColumn({ nullable: true })
  deletedAt?: Date | null;
  @ManyToOne(() => WpmCategory, { nullable: true, onDelete: 'CASCADE' })
  category?: WpmCategory | null;
  @ManyToMany(() => WpmLabel)
  @JoinTable()
  labels?: WpmLabel[];
}

/** The default strategy: a committed write drops cached state. */
@Entity({ name: PRODUCT_TABLE })
class WpmProduct extends WpmProductShape {}

/** Write-through: a committed write stores the new row state in the entity cache. */
@CachePolicy({ strategy: 'write-through', ttl: '1h' })
@Entity({ name: WT_PRODUCT_TABLE })
class WpmWtProduct extends WpmProductShape {}

type ProductClass = typeof WpmProduct | typeof WpmWtProduct;

/** What a write path works with: the product entity it writes and the manager to write through. */
interface WriteCtx {
  readonly E: ProductClass;
  readonly table: string;
  /** `dataSource.manager` for a committed write, a transaction's manager for a rolled-back one. */
  readonly em: EntityManager;
}

type Mode = 'commit' | 'rollback';

interface WritePath {
  readonly name: string;
  /** State the write needs, made before the readers are primed. */
  setup?(ctx: WriteCtx): Promise<void>;
  run(ctx: WriteCtx): Promise<void>;
  /** The write changes only the relation: readers without relations legitimately see no change. */
  readonly relationOnly?: boolean;
  /** Ids whose by-id entries no committed write touched: they must stay hits (row precision). */
  readonly untouchedIds?: readonly number[];
  /** Write-through entities: after the commit every by-id read is a hit with the new state. */
  readonly writeThroughHit?: boolean;
}

class Abort extends Error {}

const repoOf = (c: WriteCtx) => c.em.getRepository<WpmProductShape>(c.E);

const PATHS: readonly WritePath[] = [
  {
    name: 'save (insert)',
    run: (c) =>
      repoOf(c)
        .save(repoOf(c).create({ id: 3, name: 'c', price: 3, category: { id: 1 } }))
        .then(),
    untouchedIds: [1, 2],
    writeThroughHit: true,
  },
  {
    name: 'save (update)',
    async run(c) {
      const p = await repoOf(c).findOneByOrFail({ id: 1 });
      p.price = 10;
      await repoOf(c).save(p);
    },
    untouchedIds: [2, 3],
    writeThroughHit: true,
  },
  { name: 'repo.update', run: (c) => repoOf(c).update(1, { price: 11 }).then() },
  {
    name: 'QueryBuilder update',
    run: (c) =>
      repoOf(c)
        .createQueryBuilder()
        .update()
        .set({ price: 12 })
        .where('name = :n', { n: 'b' })
        .execute()
        .then(),
  },
  { name: 'repo.delete', run: (c) => repoOf(c).delete(1).then() },
  {
    name: 'QueryBuilder delete',
    run: (c) => repoOf(c).createQueryBuilder().delete().where('name = :n', { n: 'b' }).execute().then(),
  },
  { name: 'insert', run: (c) => repoOf(c).insert({ id: 3, name: 'c', price: 3 }).then() },
  {
    name: 'upsert',
    run: (c) =>
      repoOf(c)
        .upsert(
          [
            { id: 1, name: 'a', price: 13 },
            { id: 3, name: 'c', price: 3 },
          ],
          ['id'],
        )
        .then(),
  },
  {
    name: 'remove',
    run: async (c) => void (await repoOf(c).remove(await repoOf(c).findOneByOrFail({ id: 1 }))),
  },
  {
    name: 'softRemove',
    run: async (c) => void (await repoOf(c).softRemove(await repoOf(c).findOneByOrFail({ id: 1 }))),
  },
  { name: 'softDelete', run: (c) => repoOf(c).softDelete(1).then() },
  {
    name: 'restore',
    setup: (c) => repoOf(c).softDelete(2).then(),
    run: (c) => repoOf(c).restore(2).then(),
  },
  {
    name: 'recover',
    setup: async (c) => void (await repoOf(c).softRemove(await repoOf(c).findOneByOrFail({ id: 2 }))),
    async run(c) {
      const gone = await repoOf(c).findOneOrFail({ where: { id: 2 }, withDeleted: true });
      await repoOf(c).recover(gone);
    },
  },
  {
    name: 'many-to-many add (save)',
    async run(c) {
      const p = await repoOf(c).findOneOrFail({ where: { id: 1 }, relations: { labels: true } });
      p.labels = [...p.labels!, { id: 2, name: 'blue' }];
      await repoOf(c).save(p);
    },
    relationOnly: true,
  },
  {
    name: 'many-to-many remove (save)',
    async run(c) {
      const p = await repoOf(c).findOneOrFail({ where: { id: 1 }, relations: { labels: true } });
      p.labels = [];
      await repoOf(c).save(p);
    },
    relationOnly: true,
  },
  {
    name: 'many-to-many add (relation builder)',
    run: (c) => repoOf(c).createQueryBuilder().relation(c.E, 'labels').of(2).add(1),
    relationOnly: true,
  },
  {
    name: 'many-to-many remove (relation builder)',
    run: (c) => repoOf(c).createQueryBuilder().relation(c.E, 'labels').of(1).remove(1),
    relationOnly: true,
  },
  {
    name: 'cascade delete (parent repo.delete)',
    run: (c) => c.em.getRepository(WpmCategory).delete(1).then(),
  },
  {
    name: 'cascade delete (parent remove)',
    async run(c) {
      const categories = c.em.getRepository(WpmCategory);
      await categories.remove(await categories.findOneByOrFail({ id: 1 }));
    },
  },
  {
    name: 'raw SQL UPDATE',
    run: (c) =>
      c.em.query(`UPDATE ${c.em.connection.driver.escape(c.table)} SET price = 50 WHERE name = 'a'`).then(),
  },
  {
    // Committed: a committed transaction. Rolled back: a released savepoint whose transaction rolls back.
    name: 'transaction of several writes',
    run: (c) =>
      c.em.transaction(async (tx) => {
        const r = tx.getRepository<WpmProductShape>(c.E);
        await r.update(1, { price: 21 });
        await r.save(r.create({ id: 3, name: 'c', price: 3 }));
        await r.delete(2);
      }),
  },
  {
    name: 'savepoint rolled back inside a committed transaction',
    run: (c) =>
      c.em.transaction(async (tx) => {
        const r = tx.getRepository<WpmProductShape>(c.E);
        const a = await r.findOneByOrFail({ id: 1 });
        a.price = 31;
        await r.save(a);
        await expect(
          tx.transaction(async (inner) => {
            const ri = inner.getRepository<WpmProductShape>(c.E);
            const b = await ri.findOneByOrFail({ id: 2 });
            b.price = 32;
            await ri.save(b);
            await ri.insert({ id: 3, name: 'c', price: 3 });
            throw new Abort('savepoint');
          }),
        ).rejects.toBeInstanceOf(Abort);
      }),
    untouchedIds: [2, 3],
  },
];

const IDS = [1, 2, 3] as const;

/** The readers of every cell, by index into the readers built once the DataSource is open. */
const READER_NAMES = [
  'cached find (query-result cache)',
  '@Cacheable method (captured dependencies)',
  'findOneById (invalidate)',
  'findOneById (write-through)',
] as const;

/** A comparable form of a product: plain data, labels sorted, no class identity. */
function plain(p: WpmProductShape | null | undefined) {
  if (p === null || p === undefined) return null;
  return {
    id: p.id,
    name: p.name,
    price: p.price,
    deleted: p.deletedAt !== null && p.deletedAt !== undefined,
    category: p.category === undefined ? undefined : (p.category?.name ?? null),
    labels: p.labels === undefined ? undefined : p.labels.map((l) => l.name).sort(),
  };
}

/** Declares the matrix on `db`, with the cache on `stackKind` (L1 + single Redis by default). */
export function describeWritePathMatrix(db: Db, stackKind: StackKind = 'l1+redis'): void {
  describe(`write-path matrix on ${db} (${stackKind})`, () => {
    let fixture: TypeOrmFixture;
    let ds: DataSource;
    let cache: Cache;
    /** Every statement that reaches the database; a cache hit adds none. */
    let queries = 0;

    const listOptions = {
      where: { price: MoreThanOrEqual(0) },
      relations: { labels: true },
      order: { id: 'ASC' as const },
    };
    const loadList = async () => (await ds.getRepository(WpmProduct).find(listOptions)).map(plain);

    /** A service whose method reads through TypeORM; no tags: capture alone must cover it. */
    class Shop {
      constructor(readonly cache: Cache) {}
      @Cacheable()
      async products() {
        return ds.getRepository(WpmProduct).find(listOptions);
      }
    }

    interface Reader {
      readonly name: string;
      readonly entity: ProductClass;
      readonly byId: boolean;
      read(): Promise<unknown>;
      fresh(): Promise<unknown>;
    }
    let readers: Reader[];
    let byIdRepos: Map<ProductClass, CachedRepository<WpmProductShape>>;

    beforeAll(async () => {
      fixture = await openTypeOrm(
        db,
        [WpmCategory, WpmLabel, WpmProduct, WpmWtProduct],
        'write-path-matrix',
        stackKind,
      );
      ({ ds, cache } = fixture);
      ds.subscribers.push({ afterQuery: () => void queries++ } as never);
      const shop = new Shop(cache);
      byIdRepos = new Map(
        [WpmProduct, WpmWtProduct].map((E) => [
          E,
          new CachedRepository<WpmProductShape>(cache, ds.getRepository<WpmProductShape>(E)),
        ]),
      );
      const byIdReader = (name: string, E: ProductClass): Reader => ({
        name,
        entity: E,
        byId: true,
        read: async () => (await Promise.all(IDS.map((id) => byIdRepos.get(E)!.findOneById(id)))).map(plain),
        fresh: async () =>
          (await Promise.all(IDS.map((id) => ds.getRepository<WpmProductShape>(E).findOneBy({ id })))).map(
            plain,
          ),
      });
      readers = [
        {
          name: READER_NAMES[0],
          entity: WpmProduct,
          byId: false,
          read: async () =>
            (await ds.getRepository(WpmProduct).find({ ...listOptions, cache: 60_000 })).map(plain),
          fresh: loadList,
        },
        {
          name: READER_NAMES[1],
          entity: WpmProduct,
          byId: false,
          read: async () => (await shop.products()).map(plain),
          fresh: loadList,
        },
        byIdReader(READER_NAMES[2], WpmProduct),
        byIdReader(READER_NAMES[3], WpmWtProduct),
      ];
    });

    afterAll(async () => {
      const tables = ds.entityMetadatas.map((m) => m.tableName);
      await fixture.close(tables);
    });

    /** Two categories, two labels, products 1 (category x, label red) and 2 (category y), no product 3. */
    async function reset(): Promise<void> {
      for (const E of [WpmProduct, WpmWtProduct]) {
        const junction = ds.getMetadata(E).manyToManyRelations[0].junctionEntityMetadata!;
        await ds.createQueryBuilder().delete().from(junction.target).execute();
      }
      for (const E of [WpmProduct, WpmWtProduct, WpmCategory, WpmLabel]) {
        await ds.createQueryBuilder().delete().from(E).execute();
      }
      await ds
        .createQueryBuilder()
        .insert()
        .into(WpmCategory)
        .values([
          { id: 1, name: 'x' },
          { id: 2, name: 'y' },
        ])
        .execute();
      await ds
        .createQueryBuilder()
        .insert()
        .into(WpmLabel)
        .values([
          { id: 1, name: 'red' },
          { id: 2, name: 'blue' },
        ])
        .execute();
      for (const E of [WpmProduct, WpmWtProduct]) {
        await ds
          .createQueryBuilder()
          .insert()
          .into(E)
          .values([
            { id: 1, name: 'a', price: 1, category: { id: 1 } },
            { id: 2, name: 'b', price: 2, category: { id: 2 } },
          ])
          .execute();
        await ds.createQueryBuilder().relation(E, 'labels').of(1).add(1);
      }
      await cache.clear();
    }

    /** Reads and counts the statements the read sent to the database. */
    async function counted<T>(read: () => Promise<T>): Promise<{ value: T; queries: number }> {
      const before = queries;
      const value = await read();
      return { value, queries: queries - before };
    }

    describe.each(PATHS.map((p) => [p.name, p] as const))('%s', (_name, path) => {
      const cells = (['commit', 'rollback'] as Mode[]).flatMap((mode) =>
        READER_NAMES.map((name, r) => [mode, name, r] as const),
      );
      test.each(cells)('%s, read by %s', async (mode, _reader, r) => {
        const reader = readers[r];
        const E = reader.entity;
        const ctx = (em: EntityManager): WriteCtx => ({ E, table: ds.getMetadata(E).tableName, em });
        await reset();
        await path.setup?.(ctx(ds.manager));

        // Prime, and prove the reader is cached: the second read reaches the database not at all.
        const before = await reader.read();
        const second = await counted(() => reader.read());
        expect(second.value).toEqual(before);
        expect(second.queries).toBe(0);
        expect(before).toEqual(await reader.fresh());

        const invalidations = cache.stats().invalidations;
        if (mode === 'commit') {
          await path.run(ctx(ds.manager));
        } else {
          await expect(
            ds.transaction(async (em) => {
              await path.run(ctx(em));
              throw new Abort('rollback');
            }),
          ).rejects.toBeInstanceOf(Abort);
        }

        if (mode === 'commit' && reader.byId && path.untouchedIds !== undefined) {
          const cached = byIdRepos.get(E)!;
          const kept = await counted(() =>
            Promise.all(path.untouchedIds!.map((id) => cached.findOneById(id))),
          );
          expect(kept.queries).toBe(0);
        }
        const truth = await reader.fresh();
        const after = await counted(() => reader.read());
        expect({ reader: reader.name, value: after.value }).toEqual({ reader: reader.name, value: truth });
        if (mode === 'rollback') {
          expect(after.value).toEqual(before);
          expect(after.queries).toBe(0); // still the primed entry: nothing was invalidated
          expect(cache.stats().invalidations).toBe(invalidations);
        } else {
          // The write is visible to this reader (the matrix would prove nothing otherwise).
          if (!(reader.byId && path.relationOnly)) expect(truth).not.toEqual(before);
          if (reader.entity === WpmWtProduct && path.writeThroughHit) expect(after.queries).toBe(0);
        }
      });
    });
  });
}
