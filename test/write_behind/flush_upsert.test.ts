import 'reflect-metadata';
import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
  type DataSource,
} from 'typeorm';
import { TypeOrmWriteTarget } from '../../src/typeorm/write_behind_flusher';
import { fastUpsertDialect } from '../../src/typeorm/upsert_statement';
import type { RowWrite } from '../../src/write_behind/write_target';
import { openTypeOrm, type Db, type TypeOrmFixture } from '../support/typeorm';

/*
 * The flusher's upsert statement (src/typeorm/upsert_statement.ts), on each database: every
 * kind of column value arrives as TypeORM's own save would store it, a partial row changes only
 * what it names, a new row gets its defaults, and a row whose key the database generates is
 * updated in place, never inserted again.
 */

const upper = {
  to: (v: string | null) => v?.toUpperCase() ?? null,
  from: (v: string | null) => v?.toLowerCase() ?? null,
};

function richEntity(table: string) {
  @Entity({ name: table })
  class WbRich {
    @PrimaryGeneratedColumn()
    id!: number;
    @Column('varchar', { length: 50 })
    name!: string;
    @Column('varchar', { length: 50, nullable: true })
    note!: string | null;
    @Column('boolean')
    flag!: boolean;
    @Column('bigint')
    big!: string;
    @Column('decimal', { precision: 10, scale: 2 })
    price!: string;
    @Column({ precision: 3 })
    at!: Date;
    @Column('simple-json')
    meta!: { tags: string[]; n: number };
    @Column('varchar', { length: 50, transformer: upper })
    code!: string;
    @Column('int', { default: 7 })
    dflt!: number;
    @CreateDateColumn()
    created!: Date;
    @UpdateDateColumn()
    updated!: Date;
  }
  return WbRich;
}

/** A version column: the query builder writes this entity's upserts. */
function versionedEntity(table: string) {
  @Entity({ name: table })
  class WbVersioned {
    @PrimaryGeneratedColumn()
    id!: number;
    @Column('varchar', { length: 50 })
    name!: string;
    @VersionColumn()
    v!: number;
  }
  return WbVersioned;
}

describe.each(['postgres', 'mariadb', 'sqlite'] as const)('write-behind flush upsert on %s', (db: Db) => {
  const table = `wb_rich_${db}_${process.pid}`;
  const WbRich = richEntity(table);
  const WbVersioned = versionedEntity(`${table}_v`);
  let fx: TypeOrmFixture;
  let ds: DataSource;

  beforeAll(async () => {
    fx = await openTypeOrm(db, [WbRich, WbVersioned], 'wb-upsert', 'memory');
    ds = fx.ds;
  });
  afterAll(async () => {
    await fx?.close([table, `${table}_v`]);
  });

  const at = new Date('2026-03-04T05:06:07.890Z');
  const full = (id: number, n: number) => ({
    id,
    name: `name-${n}`,
    note: n % 2 === 0 ? null : `note-${n}`,
    flag: n % 2 === 1,
    big: String(9007199254740993n + BigInt(n)),
    price: `${n}.25`,
    at: new Date(at.getTime() + n * 1000),
    meta: { tags: ['a', `t${n}`], n },
    code: `code-${n}`,
  });
  /** A state without the nullable `note` and the defaulted `dflt`. */
  const partial = (id: number, n: number) => {
    const { note: _n, ...rest } = full(id, n);
    return rest;
  };
  const write = (value: object & { id: number }, version: number): RowWrite => ({
    entity: 'WbRich',
    key: `wbrich:${value.id}`,
    op: 'save',
    value,
    version,
  });

  it('takes the hand-built statement (this entity is eligible)', () => {
    expect(fastUpsertDialect(ds.getMetadata(WbRich), ds.driver)).toBe(
      db === 'sqlite' ? 'sqlite' : db === 'mariadb' ? 'mysql' : 'postgres',
    );
  });

  it('stores what repository.save stores, updates in place, leaves unnamed columns alone', async () => {
    const repo = ds.getRepository(WbRich);
    const [a, b] = await repo.save(
      [
        { ...full(0, 1), dflt: 11 },
        { ...full(0, 5), dflt: 12 },
      ].map(({ id: _, ...rest }) => rest),
    );
    // The reference: TypeORM's own save of the same state, read back.
    const { id: _ref, ...refState } = full(0, 3);
    const ref = await repo.save(refState);
    const refRow = await repo.findOneByOrFail({ id: ref.id });

    const newId = ref.id + 100;
    await new TypeOrmWriteTarget(ds).persist([
      write(full(a.id, 3), 1), // every column of an existing row
      write(partial(b.id, 4), 2), // a row without `note` and `dflt`: both keep their values
      write(full(newId, 3), 3), // a new row with an explicit key: the default fills `dflt`
    ]);

    const rows = await repo.find({ order: { id: 'ASC' } });
    expect(rows.map((r) => r.id)).toEqual([a.id, b.id, ref.id, newId]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const pick = (r: InstanceType<typeof WbRich>) => ({
      name: r.name,
      note: r.note,
      flag: r.flag,
      big: String(r.big),
      price: String(r.price),
      at: r.at.getTime(),
      meta: r.meta,
      code: r.code,
    });
    // Written through the flusher = written through TypeORM's save, value for value.
    expect(pick(byId.get(a.id)!)).toEqual(pick(refRow));
    expect(pick(byId.get(newId)!)).toEqual(pick(refRow));
    expect(byId.get(a.id)!.dflt).toBe(11);
    expect(byId.get(newId)!.dflt).toBe(7);
    // The partial row: what it named changed, the rest did not.
    const bRow = byId.get(b.id)!;
    expect(pick(bRow)).toEqual({ ...pick(await readAs(full(b.id, 4))), note: 'note-5' });
    expect(bRow.dflt).toBe(12);
    // The transformer ran on the way in: the column holds upper case.
    const raw = await ds.query(`SELECT code FROM ${ds.driver.escape(table)} WHERE id = ${newId}`);
    expect(raw[0].code).toBe('CODE-3');
  });

  /** A state as the database returns it after a save (dates rounded to the column's precision…). */
  async function readAs(state: object): Promise<InstanceType<typeof WbRich>> {
    const repo = ds.getRepository(WbRich);
    const { id: _, ...rest } = state as { id: number };
    const saved = await repo.save(rest);
    const row = await repo.findOneByOrFail({ id: saved.id });
    await repo.delete(saved.id);
    return row;
  }

  it('the query builder, too, updates a row with a generated key in place', async () => {
    const repo = ds.getRepository(WbVersioned);
    expect(fastUpsertDialect(repo.metadata, ds.driver)).toBeUndefined();
    const saved = await repo.save({ name: 'first' });
    await new TypeOrmWriteTarget(ds).persist([
      {
        entity: 'WbVersioned',
        key: `wbv:${saved.id}`,
        op: 'save',
        value: { id: saved.id, name: 'second', v: 2 },
        version: 1,
      },
    ]);
    expect(await repo.find()).toEqual([expect.objectContaining({ id: saved.id, name: 'second' })]);
  });

  it('updates a row whose key the database generated instead of inserting it again', async () => {
    const repo = ds.getRepository(WbRich);
    const { id: _, ...state } = full(0, 5);
    const saved = await repo.save(state);
    const before = await repo.count();
    await new TypeOrmWriteTarget(ds).persist([write({ ...full(saved.id, 6) }, 1)]);
    expect(await repo.count()).toBe(before);
    expect((await repo.findOneByOrFail({ id: saved.id })).name).toBe('name-6');
  });
});
