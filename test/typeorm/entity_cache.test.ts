import 'reflect-metadata';
import { Column, Entity, PrimaryGeneratedColumn, type DataSource } from 'typeorm';
import { CachePolicy, type Cache } from '../../src';
import { CachedRepository } from '../../src/typeorm';
import { type Db, openTypeOrm, type TypeOrmFixture } from '../support/typeorm';

const PRODUCT_TABLE = `ck_ec_product_${process.pid}`;
const NOTE_TABLE = `ck_ec_note_${process.pid}`;

@CachePolicy({ strategy: 'write-through', ttl: '1h' })
@Entity({ name: PRODUCT_TABLE })
class WtProduct {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
  @Column('int')
  price!: number;
  label() {
    return `${this.name} @ ${this.price}`;
  }
}

@Entity({ name: NOTE_TABLE })
class Note {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  text!: string;
}

describe.each<Db>(['sqlite', 'postgres'])('entity cache by id (%s)', (db) => {
  let fixture: TypeOrmFixture;
  let ds: DataSource;
  let cache: Cache;
  let products: CachedRepository<WtProduct>;
  let notes: CachedRepository<Note>;

  beforeAll(async () => {
    fixture = await openTypeOrm(db, [WtProduct, Note], 'entitycache');
    ({ ds, cache } = fixture);
    products = new CachedRepository(cache, ds.getRepository(WtProduct));
    notes = new CachedRepository(cache, ds.getRepository(Note));
  });
  afterAll(() => fixture.close([PRODUCT_TABLE, NOTE_TABLE]));

  test('findOneById reads through the cache and returns entity instances', async () => {
    const { id } = await ds.getRepository(Note).save({ text: 'hello' });
    const loads = cache.stats().loads;
    expect((await notes.findOneById(id))!.text).toBe('hello');
    const again = (await notes.findOneById(id))!;
    expect(again).toBeInstanceOf(Note);
    expect(cache.stats().loads).toBe(loads + 1);
    expect(await notes.findOneById(-1)).toBeNull();
    expect((await notes.findByIds([id, -1])).map((n) => n.text)).toEqual(['hello']);
  });

  test("'invalidate' entities: a committed save drops the entry, the next read reloads it", async () => {
    const repo = ds.getRepository(Note);
    const n = await repo.save({ text: 'v1' });
    await notes.findOneById(n.id);
    await repo.save({ id: n.id, text: 'v2' });
    const loads = cache.stats().loads;
    expect((await notes.findOneById(n.id))!.text).toBe('v2');
    expect(cache.stats().loads).toBe(loads + 1);
  });

  test("'write-through' entities: the committed state is stored, so the next read is a hit", async () => {
    const repo = ds.getRepository(WtProduct);
    const p = await repo.save({ name: 'lamp', price: 10 });
    expect((await products.findOneById(p.id))!.price).toBe(10);
    await repo.save({ id: p.id, price: 12 }); // partial entity: the flush reloads the full row
    const loads = cache.stats().loads;
    const got = (await products.findOneById(p.id))!;
    expect(got.price).toBe(12);
    expect(got.name).toBe('lamp');
    expect(got.label()).toBe('lamp @ 12');
    expect(cache.stats().loads).toBe(loads); // served from the write-through entry
  });

  test('a rolled-back write leaves the cached row as it was; a remove deletes it', async () => {
    const repo = ds.getRepository(WtProduct);
    const p = await repo.save({ name: 'desk', price: 100 });
    await products.findOneById(p.id);
    await expect(
      ds.transaction(async (em) => {
        await em.save(WtProduct, { id: p.id, name: 'desk', price: 1 });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect((await products.findOneById(p.id))!.price).toBe(100);
    await repo.remove(await repo.findOneByOrFail({ id: p.id }));
    expect(await products.findOneById(p.id)).toBeNull();
  });

  test('a write to one row leaves the other rows cached', async () => {
    const repo = ds.getRepository(Note);
    const [a, b] = await repo.save([{ text: 'a' }, { text: 'b' }]);
    await notes.findOneById(a.id);
    await notes.findOneById(b.id);
    await repo.save({ id: b.id, text: 'b2' });
    const loads = cache.stats().loads;
    expect((await notes.findOneById(a.id))!.text).toBe('a');
    expect(cache.stats().loads).toBe(loads);
    expect((await notes.findOneById(b.id))!.text).toBe('b2');
  });
});
