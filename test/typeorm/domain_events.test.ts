import 'reflect-metadata';
import { Column, DataSource, Entity, PrimaryGeneratedColumn, type Repository } from 'typeorm';
import { type Cache, rowTag } from '../../src';
import { cachekitTypeOrm } from '../../src/typeorm';
import { DATABASE_URL, requirePostgres } from '../support/services';
import { openStack, type StackHandle } from '../support/stacks';

const TABLE = `ck_ev_gadget_${process.pid}`;

@Entity({ name: TABLE })
class Gadget {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  name!: string;
}

type Db = 'sqlite' | 'postgres';

/**
 * Policies wired only by `invalidateOn`: no tags, and no dependency capture, so nothing but the
 * events the TypeORM plugin emits after commit can reach their entries.
 */
const policies = {
  gadgets: {
    ttl: '1h',
    captureDependencies: false,
    invalidateOn: ['gadget.inserted', 'gadget.updated', 'gadget.deleted'],
  },
  unrelated: { ttl: '1h', captureDependencies: false, invalidateOn: ['widget.updated'] },
};

describe.each<Db>(['sqlite', 'postgres'])('TypeORM writes emit domain events after commit (%s)', (db) => {
  let stack: StackHandle;
  let cache: Cache;
  let ds: DataSource;
  let repo: Repository<Gadget>;
  let loads = 0;
  let others = 0;

  beforeAll(async () => {
    if (db === 'postgres') await requirePostgres();
    stack = await openStack('l1+redis', `events-typeorm-${db}`);
    cache = stack.makeCache({ policies });
    const ck = cachekitTypeOrm(cache, { onError: (e) => console.error(e) });
    const common = { entities: [Gadget], synchronize: true, subscribers: [ck.Subscriber] };
    ds = await new DataSource(
      db === 'sqlite'
        ? { type: 'better-sqlite3', database: ':memory:', ...common }
        : { type: 'postgres', url: DATABASE_URL, ...common },
    ).initialize();
    repo = ds.getRepository(Gadget);
  });

  afterAll(async () => {
    if (db === 'postgres') await ds?.query(`DROP TABLE IF EXISTS "${TABLE}"`);
    await ds?.destroy();
    await stack?.cleanup();
  });

  /** The names in the cached list, and how many times the list was loaded so far. */
  async function list(): Promise<{ names: string[]; loads: number }> {
    const names = await cache.getOrLoad(
      'gadget-names',
      async () => {
        loads++;
        return (await repo.find({ order: { id: 'ASC' } })).map((g) => g.name);
      },
      { policy: 'gadgets' },
    );
    return { names, loads };
  }

  const other = () => cache.getOrLoad('other', () => ++others, { policy: 'unrelated' });

  test('insert, update and delete each drop the policy entries; other policies keep theirs', async () => {
    expect(await list()).toEqual({ names: [], loads: 1 });
    expect(await other()).toBe(1);
    const g = await repo.save({ name: 'a' });
    expect(await list()).toEqual({ names: ['a'], loads: 2 });
    await repo.save({ id: g.id, name: 'b' });
    expect(await list()).toEqual({ names: ['b'], loads: 3 });
    await repo.remove(await repo.findOneByOrFail({ id: g.id }));
    expect(await list()).toEqual({ names: [], loads: 4 });
    expect(await list()).toEqual({ names: [], loads: 4 });
    expect(await other()).toBe(1);
  });

  test('a rolled-back write emits nothing; the same write committed does', async () => {
    expect((await list()).loads).toBe(loads);
    const before = loads;
    await expect(
      ds.transaction(async (m) => {
        await m.save(Gadget, { name: 'ghost' });
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(await list()).toEqual({ names: [], loads: before });
    await ds.transaction(async (m) => {
      await m.save(Gadget, { name: 'real' });
      // Not committed yet: the entry still holds.
      expect(await list()).toEqual({ names: [], loads: before });
    });
    expect(await list()).toEqual({ names: ['real'], loads: before + 1 });
  });

  test('raw SQL and QueryBuilder writes emit the event their verb names, without ids', async () => {
    const seen: string[][] = [];
    const listener = ({ tags }: { tags: readonly string[] }) => seen.push([...tags]);
    cache.on('invalidate', listener);
    try {
      const before = (await list()).loads;
      const t = ds.driver.escape(TABLE);
      await ds.query(`UPDATE ${t} SET name = 'raw'`);
      expect(await list()).toEqual({ names: ['raw'], loads: before + 1 });
      expect(seen.flat()).toContain('policy:gadgets');
      await repo.createQueryBuilder().update().set({ name: 'qb' }).execute();
      expect(await list()).toEqual({ names: ['qb'], loads: before + 2 });
    } finally {
      cache.off('invalidate', listener);
    }
  });

  test('the events carry the ids the write names: a row-keyed entry of another row survives', async () => {
    const [one, two] = await repo.save([{ name: 'one' }, { name: 'two' }]);
    const byId = (id: number) =>
      cache.getOrLoad(
        `gadget-${id}-name`,
        async () => (await repo.findOneByOrFail({ id })).name,
        // The row tag ties the entry to the row; the row tag alone would also be bumped, so the
        // policy tag of that id is what is checked in the invalidate event below.
        { policy: 'gadgets', tags: [rowTag(Gadget, id)] },
      );
    expect(await byId(one.id)).toBe('one');
    expect(await byId(two.id)).toBe('two');
    const seen: string[] = [];
    const listener = ({ tags }: { tags: readonly string[] }) => seen.push(...tags);
    cache.on('invalidate', listener);
    try {
      await repo.save({ id: two.id, name: 'two!' });
    } finally {
      cache.off('invalidate', listener);
    }
    expect(seen).toContain(`policy:gadgets:gadget:${two.id}`);
    expect(seen).toContain('policy:gadgets:gadget:*');
    expect(seen).not.toContain('policy:gadgets');
    expect(seen).not.toContain(`policy:gadgets:gadget:${one.id}`);
    expect(await byId(two.id)).toBe('two!');
    expect(await byId(one.id)).toBe('one');
    // A manual emit of the same event reaches a row-keyed entry through the policy alone.
    let reads = 0;
    const keyed = () =>
      cache.getOrLoad('keyed', () => ++reads, { policy: 'gadgets', tags: [rowTag(Gadget, one.id)] });
    expect(await keyed()).toBe(1);
    await cache.emit('gadget.updated', { id: two.id });
    expect(await keyed()).toBe(1);
    await cache.emit('gadget.updated', { id: one.id });
    expect(await keyed()).toBe(2);
  });
});
