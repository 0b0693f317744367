import type { EntityMetadata, ObjectLiteral } from 'typeorm';
import type { Driver } from 'typeorm/driver/Driver.js';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata.js';

/*
 * Why this is written by hand: the write-behind flusher upserts hundreds of rows per batch, and
 * TypeORM's InsertQueryBuilder spends about 17 µs of CPU per row on them (each bind parameter is
 * named, registered, copied and searched for again in the SQL text; bench/write_behind.ts
 * profile). Building the same statement here costs about 2 µs per row. The statement is the
 * one the query builder would send, on the three dialect families cachekit's tests cover;
 * entities with columns whose insert the builder rewrites (spatial types, versions, tree and
 * discriminator columns, database-generated values) keep going through the builder.
 */

/** The SQL dialects with a hand-built upsert. */
type Dialect = 'postgres' | 'mysql' | 'sqlite';

/** The SQLite driver's helper (not on TypeORM's `Driver` interface). */
interface SqliteDriver extends Driver {
  wrapWithJsonFunction(value: string, column: ColumnMetadata, jsonb: boolean): string;
}

/** One upsert statement and its bind parameters. */
export interface UpsertStatement {
  readonly sql: string;
  readonly params: unknown[];
}

function dialectOf(driver: Driver): Dialect | undefined {
  switch (driver.options.type) {
    case 'postgres':
      return 'postgres';
    case 'mysql':
    case 'mariadb':
      return 'mysql';
    case 'better-sqlite3':
      return 'sqlite';
    default:
      return undefined;
  }
}

/** Whether the query builder writes `c` as a plain bind parameter of its value. */
function plainColumn(c: ColumnMetadata, driver: Driver): boolean {
  return (
    c.isInsert &&
    !c.isVirtual &&
    !c.isVersion &&
    !c.isDiscriminator &&
    !c.isTreeLevel &&
    !c.isNestedSetLeft &&
    !c.isNestedSetRight &&
    !c.isMaterializedPath &&
    c.generatedType === undefined &&
    (!c.isGenerated || c.isPrimary) &&
    !driver.spatialTypes.includes(c.type)
  );
}

const supported = new WeakMap<EntityMetadata, Dialect | null>();

/** The dialect of a hand-built upsert of `m`'s rows, or `undefined` (use the query builder). */
export function fastUpsertDialect(m: EntityMetadata, driver: Driver): Dialect | undefined {
  let d = supported.get(m);
  if (d === undefined) {
    const dialect = dialectOf(driver);
    d =
      dialect !== undefined &&
      m.discriminatorColumn === undefined &&
      m.columns.every((c) => plainColumn(c, driver))
        ? dialect
        : null;
    supported.set(m, d);
  }
  return d ?? undefined;
}

/** A table path with each part quoted. */
function tableName(m: EntityMetadata, driver: Driver): string {
  return m.tablePath
    .split('.')
    .map((p) => driver.escape(p))
    .join('.');
}

/**
 * `INSERT … ON CONFLICT (pk) DO UPDATE` (MySQL: `ON DUPLICATE KEY UPDATE`) of `rows`, which all
 * give the primary key and exactly the columns `cols`: the other columns keep their value (or
 * get their default, for a new row). Values go through the driver as the query builder's do
 * (transformers, dates, JSON). With no column to update, existing rows are left alone.
 */
export function upsertStatement(
  dialect: Dialect,
  driver: Driver,
  m: EntityMetadata,
  cols: readonly ColumnMetadata[],
  rows: readonly ObjectLiteral[],
): UpsertStatement {
  const pk = m.primaryColumns;
  const all = [...pk, ...cols];
  const esc = all.map((c) => driver.escape(c.databaseName));
  const params: unknown[] = [];
  const tuples: string[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    let t = '(';
    for (let i = 0; i < all.length; i++) {
      const c = all[i];
      params.push(driver.preparePersistentValue(c.getEntityValue(rows[r] as object), c));
      const p = driver.createParameter(c.databaseName, params.length - 1);
      if (i > 0) t += ', ';
      // SQLite stores a jsonb column through jsonb(), as the query builder does.
      t += dialect === 'sqlite' ? (driver as SqliteDriver).wrapWithJsonFunction(p, c, true) : p;
    }
    tuples[r] = t + ')';
  }
  let sql = `INSERT INTO ${tableName(m, driver)} (${esc.join(', ')}) VALUES ${tuples.join(', ')}`;
  const pkNames = esc.slice(0, pk.length);
  const colNames = esc.slice(pk.length);
  if (dialect === 'mysql') {
    // INSERT IGNORE would also hide a refused row (foreign key, NOT NULL): a key-only row
    // "updates" its key to itself instead.
    const set = colNames.length > 0 ? colNames : pkNames;
    sql += ` ON DUPLICATE KEY UPDATE ${set.map((n) => `${n} = VALUES(${n})`).join(', ')}`;
  } else if (colNames.length === 0) {
    sql += ' ON CONFLICT DO NOTHING';
  } else {
    const set = colNames.map((n) => `${n} = EXCLUDED.${n}`);
    // PostgreSQL has no ON UPDATE for columns: the builder sets update dates to their default.
    if (dialect === 'postgres')
      for (const c of m.columns)
        if (c.isUpdateDate && !cols.includes(c)) set.push(`${driver.escape(c.databaseName)} = DEFAULT`);
    sql += ` ON CONFLICT (${pkNames.join(', ')}) DO UPDATE SET ${set.join(', ')}`;
  }
  return { sql, params };
}
