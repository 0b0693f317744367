import type { DataSource, EntityManager, EntityMetadata, ObjectLiteral } from 'typeorm';
import type { Cache } from '../cache';
import { CacheConfigError } from '../errors';
import { WriteBehind } from '../write_behind/write_behind';
import type { WriteBehindOptions } from '../write_behind/write_behind_options';
import type { FailureKind, RowWrite, WriteTarget } from '../write_behind/write_target';
import type { WriteOp } from '../write_behind/write_queue';
import { rowEntryOptions, type RowEntryOptions } from './entity_cache';
import { fastUpsertDialect, upsertStatement } from './upsert_statement';
import { markWriteBehindFlush } from './write_behind_marker';
import { setWriteBehind, writeBehindOf } from './write_behind_registry';

/** Bind parameters per statement, well under PostgreSQL's 65,535 (and MySQL's) limit. */
const MAX_PARAMS = 30_000;
const MAX_DELETE_IDS = 1000;

/**
 * Starts write-behind for the `@CachePolicy({ strategy: 'write-behind' })` entities of
 * `dataSource`: `cachedRepository(Entity).save(e)` / `.remove(e)` then write to `cache` and to
 * the queue, and a background flusher persists them in batches. Call `close()` on the result at
 * shutdown: it flushes, then stops.
 *
 * ```ts
 * const wb = startWriteBehind(dataSource, cache, { queue: new RedisStreamQueue({ client, name: 'orders' }) });
 * await ck.repository(dataSource.getRepository(Cart)).save({ id, items });   // acknowledged = in Redis
 * await wb.close();
 * ```
 *
 * Without `queue`, writes wait in process memory: they survive nothing but a `close()` (or a
 * SIGTERM/SIGINT with `shutdownHook: true`); a crash loses those not flushed yet.
 */
export function startWriteBehind(
  dataSource: DataSource,
  cache: Cache,
  options?: WriteBehindOptions,
): WriteBehind {
  if (writeBehindOf(dataSource) !== undefined) {
    throw new CacheConfigError(
      'dataSource',
      dataSource.options.type,
      'write-behind is already running for this DataSource; close() it first',
    );
  }
  const wb = new WriteBehind(cache, new TypeOrmWriteTarget(dataSource), options);
  setWriteBehind(dataSource, wb);
  return wb;
}

/**
 * Persists write-behind batches through TypeORM: one transaction per batch, an upsert per
 * entity (and per set of columns given) for saves, a delete by ids for removes. Entity
 * listeners are off for these statements (the rows are plain states, not loaded entities);
 * the invalidation subscriber still bumps the tables' tags, so query results see the flush.
 */
export class TypeOrmWriteTarget implements WriteTarget {
  constructor(private readonly dataSource: DataSource) {}

  async persist(writes: readonly RowWrite[]): Promise<void> {
    // In order of first appearance, so that a parent written before its child goes first.
    const byEntity = new Map<string, RowWrite[]>();
    for (const w of writes) {
      let list = byEntity.get(w.entity);
      if (list === undefined) byEntity.set(w.entity, (list = []));
      list.push(w);
    }
    await this.dataSource.transaction(async (em) => {
      markWriteBehindFlush(em.queryRunner!, new Set(byEntity.keys()));
      for (const [entity, list] of byEntity) {
        const m = this.metadata(entity);
        const saves = list.filter((w) => w.op === 'save').map((w) => w.value as ObjectLiteral);
        const removes = list.filter((w) => w.op === 'remove').map((w) => w.value);
        if (saves.length > 0) await upsert(em, m, saves);
        for (let i = 0; i < removes.length; i += MAX_DELETE_IDS) {
          await em
            .createQueryBuilder()
            .delete()
            .from(m.target)
            .whereInIds(removes.slice(i, i + MAX_DELETE_IDS))
            .callListeners(false)
            .execute();
        }
      }
    });
  }

  classify(error: unknown): FailureKind {
    return isBadData(error) ? 'bad-data' : 'retry';
  }

  entryOptions(entity: string, key: string, op: WriteOp): RowEntryOptions {
    return rowEntryOptions(this.metadata(entity), key, op);
  }

  private metadata(entity: string): EntityMetadata {
    const m = this.dataSource.entityMetadatas.find((e) => e.name === entity);
    if (m === undefined)
      throw new CacheConfigError('entity', entity, 'not an entity of the write-behind DataSource');
    return m;
  }
}

/** Upserts by primary key, one statement per set of columns given (a missing column is left as it is). */
async function upsert(em: EntityManager, m: EntityMetadata, rows: ObjectLiteral[]): Promise<void> {
  const pk = m.primaryColumns;
  const writable = m.columns.filter((c) => !c.isPrimary && c.isUpdate !== false && !c.generatedType);
  const shapes = new Map<string, { cols: typeof writable; rows: ObjectLiteral[] }>();
  for (const row of rows) {
    const cols = writable.filter((c) => c.getEntityValue(row) !== undefined);
    const shape = cols.map((c) => c.databaseName).join(',');
    let s = shapes.get(shape);
    if (s === undefined) shapes.set(shape, (s = { cols, rows: [] }));
    s.rows.push(row);
  }
  const driver = em.connection.driver;
  const upsertType = driver.supportedUpsertTypes[0];
  const dialect = fastUpsertDialect(m, driver);
  for (const { cols, rows: group } of shapes.values()) {
    const chunk = Math.max(1, Math.floor(MAX_PARAMS / (cols.length + pk.length)));
    for (let i = 0; i < group.length; i += chunk) {
      const slice = group.slice(i, i + chunk);
      if (dialect !== undefined) {
        const { sql, params } = upsertStatement(dialect, driver, m, cols, slice);
        await em.query(sql, params);
        continue;
      }
      // The columns are named: left to itself, the builder omits an auto-increment primary key
      // on PostgreSQL, and the row would be inserted anew instead of updated.
      const qb = em
        .createQueryBuilder()
        .insert()
        .into(
          m.target,
          [...pk, ...cols].map((c) => c.propertyPath),
        )
        .values(slice)
        .callListeners(false)
        .updateEntity(false);
      // MySQL's INSERT IGNORE would also turn a refused row (foreign key, NOT NULL) into a
      // warning and drop it unseen: there, a key-only row "updates" its key to itself instead.
      const keyOnly = cols.length === 0;
      if (keyOnly && upsertType !== 'on-duplicate-key-update') qb.orIgnore();
      else {
        qb.orUpdate(
          (keyOnly ? pk : cols).map((c) => c.databaseName),
          pk.map((c) => c.databaseName),
          { upsertType },
        );
      }
      await qb.execute();
    }
  }
}

/** MySQL/MariaDB error codes of refused data (constraints and bad values). */
const MYSQL_BAD_DATA = new Set([
  'ER_DUP_ENTRY',
  'ER_NO_REFERENCED_ROW',
  'ER_NO_REFERENCED_ROW_2',
  'ER_ROW_IS_REFERENCED',
  'ER_ROW_IS_REFERENCED_2',
  'ER_BAD_NULL_ERROR',
  'ER_CHECK_CONSTRAINT_VIOLATED',
  'ER_DATA_TOO_LONG',
  'ER_TRUNCATED_WRONG_VALUE',
  'ER_TRUNCATED_WRONG_VALUE_FOR_FIELD',
  'ER_WARN_DATA_OUT_OF_RANGE',
]);

/**
 * Whether the database refused the data itself: SQLSTATE class 23 (integrity constraint) or 22
 * (data exception) on PostgreSQL, their MySQL and SQLite equivalents. Connection failures,
 * deadlocks, timeouts and the rest are worth retrying.
 */
function isBadData(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.driverError?.code;
  if (typeof code !== 'string') return false;
  if (/^2[23][0-9A-Z]{3}$/.test(code)) return true;
  if (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH') return true;
  return MYSQL_BAD_DATA.has(code);
}
