import { DataSource } from 'typeorm';
import { commitsDdl, commitsImplicitly } from '../../src/typeorm/implicit_commit';

describe('commitsImplicitly: statements MySQL/MariaDB commit the open transaction before', () => {
  test.each([
    'CREATE TABLE `t` (id int)',
    'create index i on t (a)',
    'ALTER TABLE `t` ADD `c` int',
    'DROP TABLE IF EXISTS `t`',
    'RENAME TABLE `a` TO `b`',
    'TRUNCATE TABLE `test`.`t`',
    'truncate t',
    'LOCK TABLES `t` WRITE',
    "GRANT SELECT ON test.* TO 'u'@'%'",
    'ANALYZE TABLE `t`',
    'OPTIMIZE NO_WRITE_TO_BINLOG TABLE `t`',
    'SET autocommit = 1',
    'SET SESSION autocommit=ON',
    'SET @@autocommit = 1',
    '/* migration 12 */ ALTER TABLE t DROP COLUMN c',
    '-- note\nDROP VIEW v',
    '  \n CREATE VIEW v AS SELECT 1',
  ])('%s', (sql) => {
    expect(commitsImplicitly(sql)).toBe(true);
  });

  test.each([
    'CREATE TEMPORARY TABLE `t` (id int)',
    'DROP TEMPORARY TABLE IF EXISTS `t`',
    'UPDATE `t` SET created = 1',
    'INSERT INTO `drop_log` VALUES (1)',
    "SELECT 'DROP TABLE t'",
    'SAVEPOINT typeorm_1',
    'RELEASE SAVEPOINT typeorm_1',
    'ROLLBACK TO SAVEPOINT typeorm_1',
    'SET autocommit = 0',
    'DELETE FROM `alter_history`',
    'SELECT * FROM `t` FOR UPDATE',
    'createdAt',
  ])('not: %s', (sql) => {
    expect(commitsImplicitly(sql)).toBe(false);
  });
});

describe('commitsDdl', () => {
  test('MySQL and MariaDB commit on DDL; PostgreSQL and SQLite do not', () => {
    const of = (type: string) => commitsDdl(new DataSource({ type } as never));
    expect(of('mariadb')).toBe(true);
    expect(of('mysql')).toBe(true);
    expect(of('postgres')).toBe(false);
    expect(of('better-sqlite3')).toBe(false);
  });
});
