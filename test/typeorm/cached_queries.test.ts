import 'reflect-metadata';
import { Column, CreateDateColumn, Entity, In, PrimaryGeneratedColumn, type Repository } from 'typeorm';
import { CachedRepository } from '../../src/typeorm';
import { type Db, openTypeOrm, type TypeOrmFixture } from '../support/typeorm';

const TABLE = `ck_cq_item_${process.pid}`;

@Entity({ name: TABLE })
class CqItem {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
  @CreateDateColumn()
  createdAt!: Date;
}

describe.each<Db>(['sqlite', 'postgres'])('CachedRepository.findOne / find by options (%s)', (db) => {
  let fixture: TypeOrmFixture;
  let repo: Repository<CqItem>;
  let cached: CachedRepository<CqItem>;
  let selects = 0;

  beforeAll(async () => {
    fixture = await openTypeOrm(db, [CqItem], 'cachedqueries');
    repo = fixture.ds.getRepository(CqItem);
    cached = new CachedRepository(fixture.cache, repo);
    fixture.ds.subscribers.push({
      afterQuery: (e: { query: string }) => {
        if (/^\s*select/i.test(e.query) && e.query.includes(TABLE)) selects++;
      },
    } as never);
  });
  afterAll(() => fixture.close([TABLE]));
  beforeEach(async () => {
    await repo.createQueryBuilder().delete().execute();
    await repo.insert([{ name: 'a' }, { name: 'b' }]);
  });

  test('a hit sends no SQL and returns a real entity with its Date', async () => {
    const first = await cached.findOne({ where: { name: 'a' } });
    const before = selects;
    const again = await cached.findOne({ where: { name: 'a' } });
    expect(selects).toBe(before);
    expect(again).toBeInstanceOf(CqItem);
    expect(again!.createdAt).toBeInstanceOf(Date);
    expect(again).toEqual(first);
    // Option key order does not matter; different options are different entries.
    await cached.find({ order: { id: 'ASC' }, where: { name: 'b' } });
    const n = selects;
    expect((await cached.find({ where: { name: 'b' }, order: { id: 'ASC' } })).map((i) => i.name)).toEqual([
      'b',
    ]);
    expect(selects).toBe(n);
  });

  test('a committed write to the table is seen at once; a rolled-back one leaves the entry a hit', async () => {
    expect((await cached.findOne({ where: { name: 'a' } }))?.name).toBe('a');
    await repo.update({ name: 'a' }, { name: 'a2' });
    expect(await cached.findOne({ where: { name: 'a' } })).toBeNull();
    const list = await cached.find({ order: { id: 'ASC' } });
    expect(list.map((i) => i.name)).toEqual(['a2', 'b']);
    await fixture.ds
      .transaction(async (m) => {
        await m.getRepository(CqItem).update({ name: 'b' }, { name: 'never' });
        throw new Error('rollback');
      })
      .catch(() => undefined);
    const before = selects;
    expect((await cached.find({ order: { id: 'ASC' } })).map((i) => i.name)).toEqual(['a2', 'b']);
    expect(selects).toBe(before);
  });

  test('options that cannot be keyed (FindOperators) go to the database every time, and still answer', async () => {
    const before = selects;
    expect((await cached.find({ where: { name: In(['a', 'b']) }, order: { id: 'ASC' } })).length).toBe(2);
    expect((await cached.find({ where: { name: In(['a', 'b']) }, order: { id: 'ASC' } })).length).toBe(2);
    expect(selects).toBe(before + 2);
  });
});
