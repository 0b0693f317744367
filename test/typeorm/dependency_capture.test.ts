import 'reflect-metadata';
import { Column, type DataSource, Entity, PrimaryGeneratedColumn, type Repository } from 'typeorm';
import { type Cache, Cacheable } from '../../src';
import { type Db, openTypeOrm, type TypeOrmFixture } from '../support/typeorm';

const TABLE = `ck_dep_book_${process.pid}`;

@Entity({ name: TABLE })
class Book {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  title!: string;
}

describe.each<Db>(['sqlite', 'postgres'])('read-dependency capture for @Cacheable (%s)', (db) => {
  let ds: DataSource;
  let repo: Repository<Book>;
  let cache: Cache;

  class Library {
    runs = 0;
    constructor(readonly cache: Cache) {}

    // No tags anywhere: what the method reads through TypeORM tags its entry.
    @Cacheable()
    async title(id: number) {
      this.runs++;
      return (await repo.findOneBy({ id }))?.title ?? null;
    }

    @Cacheable()
    async count() {
      this.runs++;
      return repo.count();
    }

    @Cacheable()
    async titlesViaQueryCache() {
      this.runs++;
      return (await repo.find({ order: { id: 'ASC' }, cache: 60_000 })).map((b) => b.title);
    }

    @Cacheable({ captureDependencies: false })
    async uncaptured(id: number) {
      this.runs++;
      return (await repo.findOneBy({ id }))?.title ?? null;
    }
  }

  let fixture: TypeOrmFixture;

  beforeAll(async () => {
    fixture = await openTypeOrm(db, [Book], 'depcapture');
    ({ ds, cache } = fixture);
    repo = ds.getRepository(Book);
  });
  afterAll(() => fixture.close([TABLE]));
  beforeEach(async () => {
    await repo.createQueryBuilder().delete().execute();
    await repo.insert([{ title: 'Dune' }, { title: 'Emma' }]);
  });

  const firstId = async () => (await repo.find({ order: { id: 'ASC' } }))[0].id;

  test('an entity the method loaded tags the entry: a save of that row invalidates it', async () => {
    const lib = new Library(cache);
    const id = await firstId();
    expect(await lib.title(id)).toBe('Dune');
    expect(await lib.title(id)).toBe('Dune');
    expect(lib.runs).toBe(1);
    const b = (await repo.findOneBy({ id }))!;
    b.title = 'Dune Messiah';
    await repo.save(b);
    expect(await lib.title(id)).toBe('Dune Messiah');
    expect(lib.runs).toBe(2);
  });

  test('a query that hydrates nothing (count) is tagged with its tables', async () => {
    const lib = new Library(cache);
    expect(await lib.count()).toBe(2);
    await repo.insert({ title: 'Ulysses' });
    expect(await lib.count()).toBe(3);
  });

  test('reads served by the query cache still tag the entry', async () => {
    // Warm the query cache outside any cached method, so the method's own read is a query-cache hit.
    await repo.find({ order: { id: 'ASC' }, cache: 60_000 });
    const lib = new Library(cache);
    expect(await lib.titlesViaQueryCache()).toEqual(['Dune', 'Emma']);
    expect(await lib.titlesViaQueryCache()).toEqual(['Dune', 'Emma']);
    expect(lib.runs).toBe(1);
    await repo.update({ title: 'Emma' }, { title: 'Persuasion' });
    expect(await lib.titlesViaQueryCache()).toEqual(['Dune', 'Persuasion']);
    expect(lib.runs).toBe(2);
  });

  test('capture can be turned off per method', async () => {
    const lib = new Library(cache);
    const id = await firstId();
    expect(await lib.uncaptured(id)).toBe('Dune');
    await repo.update({ id }, { title: 'Changed' });
    // Nothing tagged the entry, so only its TTL (or a manual tag) would end it.
    expect(await lib.uncaptured(id)).toBe('Dune');
  });
});
