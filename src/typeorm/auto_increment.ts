import type { DataSource, EntityMetadata, QueryRunner } from 'typeorm';
import { commitsDdl } from './implicit_commit';

/*
 * MySQL and MariaDB return one insert id per statement, the first row's. Without RETURNING
 * (MySQL, or MariaDB under `type: 'mysql'` or before 10.5), TypeORM numbers the
 * other rows of a multi-row INSERT from it one by one, which is wrong when the server steps by
 * more than one (auto_increment_increment; a Galera cluster sets it to its size). The hooks then
 * name rows that were not written, and a cached "no such row" for a real new id would survive.
 */

const steps = new WeakMap<DataSource, Promise<number>>();

/** Whether the ids TypeORM reports for rows this insert generated may be wrong. */
export async function insertIdsMayBeGuessed(
  ds: DataSource,
  m: EntityMetadata,
  qr: QueryRunner | undefined,
): Promise<boolean> {
  if (!generatesIncrementIds(ds, m)) return false;
  let step = steps.get(ds);
  if (step === undefined) {
    // Read once per DataSource, on the connection that inserted (the session value applies).
    const runner = qr ?? ds;
    step = runner
      .query('SELECT @@auto_increment_increment AS step')
      .then((rows: { step: unknown }[]) => Number(rows[0]?.step));
    steps.set(ds, step);
    step.catch(() => steps.delete(ds));
  }
  return (await step) !== 1;
}

/**
 * Whether inserts of `m` on `ds` take generated ids from a MySQL/MariaDB auto-increment without
 * reading them back (TypeORM uses INSERT … RETURNING only with `type: 'mariadb'` on 10.5+).
 */
export function generatesIncrementIds(ds: DataSource, m: EntityMetadata): boolean {
  return (
    commitsDdl(ds) &&
    !ds.driver.isReturningSqlSupported('insert') &&
    m.primaryColumns.some((c) => c.generationStrategy === 'increment')
  );
}
