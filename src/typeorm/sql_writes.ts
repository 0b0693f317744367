import type { EntityMetadata } from 'typeorm';

/*
 * Which known tables a SQL statement writes. A deliberately simple scan, not a parser: it
 * finds the table after INSERT INTO, UPDATE, DELETE FROM, TRUNCATE, MERGE INTO and REPLACE INTO
 * (quoted or not, schema-qualified or not) and keeps the names that are tables of the
 * DataSource. A false match only invalidates too much; reads never reach this code.
 */

const MAYBE_WRITE = /\b(insert|update|delete|truncate|merge|replace)\b/i;
const TARGET =
  /\b(?:insert\s+(?:or\s+\w+\s+|ignore\s+)?into|update(?:\s+only)?|delete\s+from(?:\s+only)?|merge\s+into|replace\s+into)\s+((?:[`"[]?[\w$]+[`"\]]?\.)?[`"[]?[\w$]+[`"\]]?)/gi;
const TRUNCATE = /\btruncate\s+(?:table\s+)?(?:only\s+)?([^;]+)/gi;

/** The metadata of every known table `sql` writes (empty for reads). */
export function writtenTables(sql: string, tables: Map<string, EntityMetadata>): EntityMetadata[] {
  if (!MAYBE_WRITE.test(sql)) return [];
  const found = new Set<EntityMetadata>();
  const add = (ident: string) => {
    const bare = ident
      .trim()
      .split('.')
      .pop()!
      .replace(/^[`"[]|[`"\]]$/g, '')
      .toLowerCase();
    const m = tables.get(bare);
    if (m) found.add(m);
  };
  for (const match of sql.matchAll(TARGET)) add(match[1]);
  for (const match of sql.matchAll(TRUNCATE)) {
    for (const part of match[1].split(',')) add(part.trim().split(/\s+/)[0]);
  }
  return [...found];
}

const IDENT = /[`"[]?[\w$]+[`"\]]?/g;

/**
 * Every known table a statement names (FROM, JOIN, subqueries alike). Over-inclusive on
 * purpose: a column that shares a table's name only adds a tag.
 */
export function readTables(sql: string, tables: Map<string, EntityMetadata>): EntityMetadata[] {
  const found = new Set<EntityMetadata>();
  for (const token of sql.match(IDENT) ?? []) {
    const m = tables.get(token.replace(/^[`"[]|[`"\]]$/g, '').toLowerCase());
    if (m) found.add(m);
  }
  return [...found];
}

/** Whether a statement inserts-or-updates (PostgreSQL/SQLite ON CONFLICT, MySQL ON DUPLICATE KEY, MERGE). */
export function isUpsert(sql: string): boolean {
  return /\bon\s+conflict\b|\bon\s+duplicate\s+key\b|\bmerge\s+into\b/i.test(sql);
}
