import type { DataSource } from 'typeorm';

/*
 * MySQL and MariaDB commit the open transaction themselves before DDL (CREATE, ALTER, DROP,
 * RENAME, TRUNCATE; not CREATE/DROP TEMPORARY TABLE), LOCK TABLES, account and table-maintenance
 * statements, and SET autocommit = 1; the statements that follow then run in autocommit mode
 * until the transaction ends. A ROLLBACK undoes none of it, so its writes must be invalidated
 * there and then. PostgreSQL and SQLite have transactional DDL.
 */

const IMPLICIT_COMMIT = new RegExp(
  '^(?:\\s|/\\*.*?\\*/|(?:--|#)[^\\n]*\\n)*(?:' +
    [
      '(?:create|drop)(?!\\s+temporary\\b)\\b',
      'alter\\b',
      'rename\\b',
      'truncate\\b',
      'lock\\s+tables?\\b',
      'grant\\b',
      'revoke\\b',
      '(?:analyze|optimize|repair|check)\\s+(?:no_write_to_binlog\\s+|local\\s+)?tables?\\b',
      'flush\\b',
      '(?:install|uninstall)\\s+plugin\\b',
      'set\\s+(?:(?:session|local)\\s+|@@(?:session\\.|local\\.)?)?autocommit\\s*=\\s*(?:1|on|true)\\b',
    ].join('|') +
    ')',
  'is',
);

/** Whether `ds` is MySQL or MariaDB, where DDL inside a transaction commits it. */
export function commitsDdl(ds: DataSource): boolean {
  const type = ds.options.type;
  return type === 'mysql' || type === 'mariadb' || type === 'aurora-mysql';
}

/** Whether MySQL/MariaDB commit the open transaction before running `sql`. */
export function commitsImplicitly(sql: string): boolean {
  return IMPLICIT_COMMIT.test(sql);
}
