import 'reflect-metadata';
import { Column, DataSource, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { CachedRepository, cachekitTypeOrm } from '../../src/typeorm';
import { MYSQL_URL } from '../support/services';
import { openTypeOrm, type TypeOrmFixture } from '../support/typeorm';

/*
 * What only MySQL/MariaDB do, end to end through the plugin: raw statements in MySQL's own
 * forms (multi-table UPDATE and DELETE, REPLACE), and the implicit commit of TRUNCATE and other
 * DDL inside a transaction, which a later ROLLBACK cannot undo.
 */

const ORDER_TABLE = `ck_my_order_${process.pid}`;
const LINE_TABLE = `ck_my_line_${process.pid}`;
const TICKET_TABLE = `ck_my_ticket_${process.pid}`;

@Entity({ name: ORDER_TABLE })
class MyOrder {
  @PrimaryColumn('int')
  id!: number;
  @Column('int')
  total!: number;
}

@Entity({ name: LINE_TABLE })
class MyLine {
  @PrimaryColumn('int')
  id!: number;
  @Column('int')
  orderId!: number;
  @Column('int')
  price!: number;
}

@Entity({ name: TICKET_TABLE })
class MyTicket {
  @PrimaryGeneratedColumn()
  id!: number;
  @Column()
  title!: string;
}

class Abort extends Error {}

describe('MariaDB dialect through the plugin', () => {
  let fixture: TypeOrmFixture;
  let ds: DataSource;
  let orders: CachedRepository<MyOrder>;
  let lines: CachedRepository<MyLine>;
  const q = (name: string) => `\`${name}\``;

  /** Cached reads of both tables, by id and by query, and what the database holds. */
  const cached = async () => ({
    order: await orders.findOneById(1),
    line: await lines.findOneById(1),
    lines: await lines.find({ order: { id: 'ASC' } }),
  });
  const truth = async () => ({
    order: await ds.getRepository(MyOrder).findOneBy({ id: 1 }),
    line: await ds.getRepository(MyLine).findOneBy({ id: 1 }),
    lines: await ds.getRepository(MyLine).find({ order: { id: 'ASC' } }),
  });

  beforeAll(async () => {
    fixture = await openTypeOrm('mariadb', [MyOrder, MyLine], 'mariadb-dialect');
    ds = fixture.ds;
    orders = new CachedRepository(fixture.cache, ds.getRepository(MyOrder));
    lines = new CachedRepository(fixture.cache, ds.getRepository(MyLine));
  });
  afterAll(() => fixture.close([LINE_TABLE, ORDER_TABLE]));

  beforeEach(async () => {
    await ds.query(`DELETE FROM ${q(LINE_TABLE)}`);
    await ds.query(`DELETE FROM ${q(ORDER_TABLE)}`);
    await ds.getRepository(MyOrder).insert([{ id: 1, total: 10 }]);
    await ds.getRepository(MyLine).insert([
      { id: 1, orderId: 1, price: 4 },
      { id: 2, orderId: 1, price: 6 },
    ]);
    await fixture.cache.clear();
    // Primed: the state before the statement under test.
    expect(await cached()).toEqual(await truth());
  });

  test('a multi-table UPDATE invalidates every table it writes', async () => {
    await ds.query(
      `UPDATE ${q(ORDER_TABLE)} o JOIN ${q(LINE_TABLE)} l ON l.orderId = o.id SET o.total = 0, l.price = 0`,
    );
    const now = await truth();
    expect(now.order!.total).toBe(0);
    expect(await cached()).toEqual(now);
  });

  test('a multi-table DELETE invalidates every table it deletes from', async () => {
    await ds.query(
      `DELETE o, l FROM \`test\`.${q(ORDER_TABLE)} o JOIN \`test\`.${q(LINE_TABLE)} l ON l.orderId = o.id`,
    );
    const now = await truth();
    expect(now.order).toBeNull();
    expect(await cached()).toEqual(now);
  });

  test('REPLACE INTO invalidates its table', async () => {
    await ds.query(`REPLACE ${q(LINE_TABLE)} (id, orderId, price) VALUES (1, 1, 40)`);
    const now = await truth();
    expect(now.line!.price).toBe(40);
    expect(await cached()).toEqual(now);
  });

  test('TRUNCATE in a transaction commits at once (and what came before it): a later rollback keeps the invalidation', async () => {
    await expect(
      ds.transaction(async (em) => {
        await em.getRepository(MyOrder).update(1, { total: 99 });
        await em.query(`TRUNCATE TABLE ${q(LINE_TABLE)}`);
        throw new Abort();
      }),
    ).rejects.toBeInstanceOf(Abort);
    const now = await truth();
    expect(now.order!.total).toBe(99); // committed by the TRUNCATE, before the ROLLBACK
    expect(now.lines).toEqual([]);
    expect(await cached()).toEqual(now);
  });

  test('after an implicit commit, the rest of the transaction runs in autocommit and is invalidated as it goes', async () => {
    await expect(
      ds.transaction(async (em) => {
        await em.query(`CREATE TABLE IF NOT EXISTS ${q(`${ORDER_TABLE}_tmp`)} (id int)`);
        await em.query(`DROP TABLE ${q(`${ORDER_TABLE}_tmp`)}`);
        await em.getRepository(MyLine).update(1, { price: 77 });
        throw new Abort();
      }),
    ).rejects.toBeInstanceOf(Abort);
    const now = await truth();
    expect(now.line!.price).toBe(77);
    expect(await cached()).toEqual(now);
  });

  test('a rolled-back transaction without DDL still invalidates nothing', async () => {
    const before = fixture.cache.stats().invalidations;
    await expect(
      ds.transaction(async (em) => {
        await em.getRepository(MyLine).update(1, { price: 55 });
        await em.query(`CREATE TEMPORARY TABLE ${q(`${LINE_TABLE}_t`)} (id int)`); // no implicit commit
        throw new Abort();
      }),
    ).rejects.toBeInstanceOf(Abort);
    expect((await truth()).line!.price).toBe(4);
    expect(fixture.cache.stats().invalidations).toBe(before);
  });
});

describe.each(['mysql', 'mariadb'] as const)(
  'MariaDB auto-increment stepping by more than one (Galera), as TypeORM type %s',
  (type) => {
    let fixture: TypeOrmFixture;
    let ds: DataSource;

    beforeAll(async () => {
      fixture = await openTypeOrm('mariadb', [MyTicket], `mariadb-step-${type}`);
      const ck = cachekitTypeOrm(fixture.cache, { onError: (e) => console.error(e) });
      // One connection, so that the session's step applies to every statement.
      ds = await new DataSource({
        type,
        url: MYSQL_URL,
        entities: [MyTicket],
        subscribers: [ck.Subscriber],
        extra: { connectionLimit: 1 },
      }).initialize();
      await ds.query('SET SESSION auto_increment_increment = 2');
      await ds.query(`TRUNCATE TABLE ${'`'}${TICKET_TABLE}${'`'}`); // ids from 1 again
    });
    afterAll(async () => {
      await ds.destroy();
      await fixture.close([TICKET_TABLE]);
    });

    test('a multi-row insert drops the cached misses of the ids it really generated', async () => {
      const tickets = new CachedRepository(fixture.cache, ds.getRepository(MyTicket));
      expect(await tickets.findOneById(3)).toBeNull(); // cached: no such row yet
      const result = await ds.getRepository(MyTicket).insert([{ title: 'a' }, { title: 'b' }]);
      const real = (await ds.getRepository(MyTicket).find({ order: { id: 'ASC' } })).map((t) => t.id);
      expect(real).toEqual([1, 3]);
      // What the hooks are told: read back by RETURNING on MariaDB 10.5+, counted on by one otherwise.
      expect(result.identifiers).toEqual(
        type === 'mariadb' ? [{ id: 1 }, { id: 3 }] : [{ id: 1 }, { id: 2 }],
      );
      expect(await tickets.findOneById(3)).toMatchObject({ id: 3, title: 'b' });
    });
  },
);
