import { lowerFirst } from '../engine/domain_events';

/** What a committed write did to its rows, as a domain event names it. */
export type WriteKind = 'inserted' | 'updated' | 'deleted';

/**
 * The domain event the TypeORM plugin emits after a write commits: the entity's class name with
 * its first letter lowercased, a dot, the kind: `Product` → `product.updated`,
 * `OrderItem` → `orderItem.deleted`.
 */
export function writeEventName(entity: string, kind: WriteKind): string {
  return `${lowerFirst(entity)}.${kind}`;
}

/**
 * What a raw SQL write may have done, from its verb. An upsert inserts or updates; a statement
 * this scan cannot place (MERGE, a write inside a CTE) counts as all three: too many events only
 * invalidate too much.
 */
export function sqlWriteKinds(sql: string, upsert: boolean): WriteKind[] {
  if (upsert) return ['inserted', 'updated'];
  const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase();
  if (verb === 'insert') return ['inserted'];
  if (verb === 'replace') return ['inserted', 'deleted'];
  if (verb === 'update') return ['updated'];
  if (verb === 'delete' || verb === 'truncate') return ['deleted'];
  return ['inserted', 'updated', 'deleted'];
}
