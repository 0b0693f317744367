import type { DataSource, EntityMetadata, ObjectLiteral } from 'typeorm';
import { commitsDdl } from './implicit_commit';

/*
 * MySQL and MariaDB keep DATETIME/TIMESTAMP to the column's fractional precision, 0 digits
 * unless declared (`precision: 3`): MariaDB truncates the rest, MySQL rounds it. A write-behind
 * entry holds the state the application saved, not one read back, so its dates are cut the
 * same way here; otherwise the cache would show milliseconds the database never kept.
 */

const DATE_TYPES = new Set(['datetime', 'timestamp']);

/** Sets each date of `state` to the value the database will store for it (MySQL/MariaDB only). */
export function fitDatesToColumns(ds: DataSource, m: EntityMetadata, state: ObjectLiteral): void {
  if (!commitsDdl(ds)) return;
  const driver = ds.driver;
  const truncates = isMariaDb(ds);
  for (const column of m.columns) {
    const value = column.getEntityValue(state);
    if (!(value instanceof Date)) continue;
    const type = String(driver.normalizeType(column));
    if (!DATE_TYPES.has(type)) continue;
    const digits = column.precision ?? driver.dataTypeDefaults?.[type]?.precision ?? 0;
    if (digits >= 3) continue; // a JavaScript Date has milliseconds only
    const unit = 10 ** (3 - digits);
    const ms = value.getTime();
    const kept = truncates ? Math.floor(ms / unit) * unit : Math.round(ms / unit) * unit;
    if (kept !== ms) column.setEntityValue(state, new Date(kept));
  }
}

/** MariaDB by its server version (`type: 'mysql'` is often used for it), else by the DataSource type. */
function isMariaDb(ds: DataSource): boolean {
  const version = (ds.driver as { version?: unknown }).version;
  return typeof version === 'string' && version !== ''
    ? /mariadb/i.test(version)
    : ds.options.type === 'mariadb';
}
