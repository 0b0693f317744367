import type { EntityMetadata } from 'typeorm';
import { isUpsert, readTables, writtenTables } from '../../src/typeorm/sql_writes';

/*
 * Raw-SQL table detection with the quoting and statement forms of MySQL/MariaDB (backticks,
 * `db`.`table`, optional INTO, modifiers, multi-table UPDATE and DELETE), beside the ANSI forms.
 * Only the map's identity matters here: which known tables a statement is found to write.
 */

const NAMES = ['orders', 'order_items', 'my-table', 'Customers', 'audit'];
const tables = new Map(NAMES.map((n) => [n.toLowerCase(), { tableName: n } as EntityMetadata]));
const written = (sql: string) =>
  writtenTables(sql, tables)
    .map((m) => m.tableName)
    .sort();
const read = (sql: string) =>
  readTables(sql, tables)
    .map((m) => m.tableName)
    .sort();

describe('writtenTables, MySQL/MariaDB forms', () => {
  test.each([
    ['UPDATE `orders` SET total = 1 WHERE id = 2', ['orders']],
    ['UPDATE `test`.`orders` SET total = 1', ['orders']],
    ['UPDATE test.orders SET total = 1', ['orders']],
    ['UPDATE `test` . `orders` SET total = 1', ['orders']],
    ['UPDATE LOW_PRIORITY IGNORE `orders` SET total = 1', ['orders']],
    ['DELETE FROM `orders` WHERE id = 1', ['orders']],
    ['DELETE LOW_PRIORITY QUICK IGNORE FROM `test`.`orders` WHERE id = 1', ['orders']],
    ['INSERT INTO `orders` (`id`) VALUES (1)', ['orders']],
    ['INSERT `orders` (`id`) VALUES (1)', ['orders']],
    ['INSERT LOW_PRIORITY IGNORE INTO `orders` (`id`) VALUES (1)', ['orders']],
    ['INSERT HIGH_PRIORITY `orders` SET id = 1', ['orders']],
    [
      'INSERT INTO `orders`(`id`, `total`) VALUES (1, 2) ON DUPLICATE KEY UPDATE `total` = VALUES(`total`)',
      ['orders'],
    ],
    ['INSERT INTO `orders` SELECT * FROM `audit`', ['orders']],
    ['REPLACE INTO `orders` (`id`) VALUES (1)', ['orders']],
    ['REPLACE `test`.`orders` (`id`) VALUES (1)', ['orders']],
    ['REPLACE DELAYED INTO orders VALUES (1)', ['orders']],
    ['TRUNCATE TABLE `test`.`orders`', ['orders']],
    ['UPDATE `my-table` SET x = 1', ['my-table']],
    ['INSERT INTO `test`.`my-table` VALUES (1)', ['my-table']],
    // Table names are case-sensitive on Linux MySQL; matching without case only over-invalidates.
    ['UPDATE `customers` SET x = 1', ['Customers']],
    ['update CUSTOMERS set x = 1', ['Customers']],
    // Multi-table UPDATE: every table named before SET may be written.
    [
      'UPDATE `orders` o JOIN `order_items` i ON i.order_id = o.id SET o.total = i.price, i.seen = 1',
      ['order_items', 'orders'],
    ],
    [
      'UPDATE orders, order_items SET orders.total = 0, order_items.price = 0 WHERE orders.id = order_items.order_id',
      ['order_items', 'orders'],
    ],
    // Multi-table DELETE, both syntaxes.
    [
      'DELETE o, i FROM `orders` o INNER JOIN `order_items` i ON i.order_id = o.id WHERE o.id = 1',
      ['order_items', 'orders'],
    ],
    [
      'DELETE `orders`, `order_items` FROM `orders` JOIN `order_items` ON `order_items`.`order_id` = `orders`.`id`',
      ['order_items', 'orders'],
    ],
    [
      'DELETE FROM `order_items` USING `order_items` JOIN `orders` ON `orders`.`id` = `order_items`.`order_id` WHERE `orders`.`total` = 0',
      ['order_items', 'orders'],
    ],
    ["LOAD DATA LOCAL INFILE '/tmp/x.csv' REPLACE INTO TABLE `test`.`orders`", ['orders']],
    ['UPDATE `orders` SET total = 1; DELETE FROM `audit`', ['audit', 'orders']],
  ] as const)('%s', (sql, expected) => {
    expect(written(sql)).toEqual([...expected].sort());
  });

  test.each([
    'SELECT * FROM `orders` WHERE id = 1 FOR UPDATE',
    'SELECT * FROM `orders` LOCK IN SHARE MODE',
    "SELECT REPLACE(`name`, 'a', 'b'), INSERT(`name`, 1, 2, 'x') FROM `orders`",
    'SELECT `o`.`id` AS `updated_at` FROM `orders` `o`',
    'CREATE TABLE `audit` (`id` int, CONSTRAINT `fk` FOREIGN KEY (`id`) REFERENCES `orders` (`id`) ON DELETE CASCADE ON UPDATE NO ACTION)',
    'ALTER TABLE `order_items` ADD CONSTRAINT `fk2` FOREIGN KEY (`order_id`) REFERENCES `orders`(`id`) ON DELETE SET NULL ON UPDATE CASCADE',
    'SAVEPOINT typeorm_1',
    'RELEASE SAVEPOINT typeorm_1',
  ])('no write: %s', (sql) => {
    expect(written(sql)).toEqual([]);
  });

  test('ANSI and SQL Server quoting still work', () => {
    expect(written('UPDATE "public"."orders" SET total = 1')).toEqual(['orders']);
    expect(written('DELETE FROM [dbo].[orders] WHERE id = 1')).toEqual(['orders']);
    expect(
      written(
        'INSERT INTO "orders" ("id") VALUES ($1) ON CONFLICT ("id") DO UPDATE SET "total" = EXCLUDED."total"',
      ),
    ).toEqual(['orders']);
    expect(written('DELETE FROM "orders" USING "audit" WHERE "orders"."id" = "audit"."id"')).toEqual([
      'audit',
      'orders',
    ]);
    expect(written('UPDATE "orders" SET total = 0 FROM "audit" WHERE "orders"."id" = "audit"."id"')).toEqual([
      'orders',
    ]);
  });
});

describe('readTables and isUpsert, MySQL/MariaDB forms', () => {
  test('backticked and schema-qualified names are read', () => {
    expect(read('SELECT * FROM `test`.`orders` JOIN `my-table` ON 1 = 1')).toEqual(['my-table', 'orders']);
    expect(read('SELECT * FROM `Customers`')).toEqual(['Customers']);
  });

  test('ON DUPLICATE KEY UPDATE is an upsert, REPLACE INTO too (it deletes then inserts rows it cannot name)', () => {
    expect(
      isUpsert('INSERT INTO `orders` VALUES (1) ON DUPLICATE KEY UPDATE `total` = VALUES(`total`)'),
    ).toBe(true);
    expect(isUpsert('REPLACE INTO `orders` VALUES (1)')).toBe(true);
    expect(isUpsert('INSERT INTO `orders` VALUES (1)')).toBe(false);
  });
});
