import type { EntityMetadata } from 'typeorm';

/*
 * Which known tables a SQL statement writes. A deliberately simple scan, not a parser: it
 * finds the target of INSERT, REPLACE, MERGE, LOAD DATA and TRUNCATE, and every table named
 * between UPDATE and SET or in a DELETE before its WHERE (MySQL's multi-table forms name
 * several there), in any quoting: "ANSI", `MySQL`, [SQL Server], schema-qualified or not. It
 * keeps the names that are tables of the DataSource, without case (MySQL on Linux tells
 * `Orders` from `orders`; merging them only invalidates too much, as does any false match).
 * Reads never reach this code.
 */

const BT = '`';
/** One identifier part: backticked (a doubled backtick inside), double-quoted, bracketed or bare. */
const PART = `(?:${BT}(?:[^${BT}]|${BT}${BT})+${BT}|"(?:[^"]|"")+"|\\[[^\\]]+\\]|[\\w$]+)`;
/** A name: up to three dot-separated parts (database/schema qualified), spaces allowed around dots. */
const NAME = `${PART}(?:\\s*\\.\\s*${PART}){0,2}`;

const MAYBE_WRITE = /\b(insert|update|delete|truncate|merge|replace|load)\b/i;
/** INSERT and REPLACE (MySQL: modifiers, INTO optional), MERGE INTO, LOAD DATA … INTO TABLE. */
const TARGET = new RegExp(
  `\\b(?:(?:insert|replace)(?:\\s+(?:low_priority|delayed|high_priority|ignore|or\\s+\\w+))*(?:\\s+into)?` +
    `|merge\\s+into|load\\s+(?:data|xml)\\b[^;]*?\\binto\\s+table)\\s+(${NAME})`,
  'gi',
);
/* Not the UPDATE of ON UPDATE (foreign keys, MySQL column defaults), AFTER/BEFORE UPDATE
 * (triggers), FOR [NO KEY] UPDATE (row locks), DO UPDATE / ON DUPLICATE KEY UPDATE (upserts,
 * whose target the INSERT already named); likewise for DELETE. */
const NOT_A_STATEMENT = '(?<!\\b(?:on|after|before|of|for|key|do)\\s+)';
/** The table references of an UPDATE: everything up to SET (bounded: a long statement scans in linear time). */
const UPDATE_REFS = new RegExp(`${NOT_A_STATEMENT}\\bupdate\\b([^;]{0,1000}?)\\bset\\b`, 'gi');
/** The tables of a DELETE (`DELETE t1, t2 FROM … JOIN …`, `DELETE FROM t USING …`): up to WHERE. */
const DELETE_REFS = new RegExp(
  `${NOT_A_STATEMENT}\\bdelete\\b([^;)]{0,1000}?)(?=\\bwhere\\b|\\border\\s+by\\b|\\blimit\\b|\\breturning\\b|[;)]|$)`,
  'gi',
);
const TRUNCATE = /\btruncate\s+(?:table\s+)?(?:only\s+)?([^;]+)/gi;
const PARTS = new RegExp(PART, 'g');

/** An identifier part without its quotes. */
function unquote(part: string): string {
  const q = part[0];
  if (q === BT) return part.slice(1, -1).replaceAll(BT + BT, BT);
  if (q === '"') return part.slice(1, -1).replaceAll('""', '"');
  if (q === '[') return part.slice(1, -1);
  return part;
}

/** The metadata of every known table `sql` writes (empty for reads). */
export function writtenTables(sql: string, tables: Map<string, EntityMetadata>): EntityMetadata[] {
  if (!MAYBE_WRITE.test(sql)) return [];
  const found = new Set<EntityMetadata>();
  const add = (part: string | undefined) => {
    const m = part === undefined ? undefined : tables.get(unquote(part).toLowerCase());
    if (m) found.add(m);
  };
  /** The table of a possibly qualified name: its last part. */
  const addName = (name: string) => add(name.match(PARTS)?.pop());
  /** Every part of every name: a table list with aliases and joins, over-inclusive on purpose. */
  const addAll = (refs: string) => {
    for (const part of refs.match(PARTS) ?? []) add(part);
  };
  for (const match of sql.matchAll(TARGET)) addName(match[1]);
  for (const match of sql.matchAll(UPDATE_REFS)) addAll(match[1]);
  for (const match of sql.matchAll(DELETE_REFS)) addAll(match[1]);
  for (const match of sql.matchAll(TRUNCATE)) {
    for (const item of match[1].split(',')) {
      const name = item.trim().match(new RegExp(`^${NAME}`));
      if (name) addName(name[0]);
    }
  }
  return [...found];
}

/**
 * Every known table a statement names (FROM, JOIN, subqueries alike). Over-inclusive on
 * purpose: a column that shares a table's name only adds a tag.
 */
export function readTables(sql: string, tables: Map<string, EntityMetadata>): EntityMetadata[] {
  const found = new Set<EntityMetadata>();
  for (const token of sql.match(PARTS) ?? []) {
    const m = tables.get(unquote(token).toLowerCase());
    if (m) found.add(m);
  }
  return [...found];
}

/**
 * Whether a statement may change rows it does not name by id: PostgreSQL/SQLite ON CONFLICT,
 * MySQL ON DUPLICATE KEY and REPLACE (a delete of the clashing row, then an insert), MERGE.
 */
export function isUpsert(sql: string): boolean {
  return /\bon\s+conflict\b|\bon\s+duplicate\s+key\b|\bmerge\s+into\b|\breplace(?:\s+(?:low_priority|delayed))*(?:\s+into)?\s+[`"[\w$]/i.test(
    sql,
  );
}
