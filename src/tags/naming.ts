import { CacheConfigError } from '../errors';
import { stableKey } from '../engine/keys';

/**
 * The one place that names entity tags. The decorators (`@CacheTags(Product)`) and the TypeORM
 * subscriber both call these, so a write to a table always bumps the tags readers used.
 *
 * An entity is named by its class name, which is what TypeORM reports as `metadata.name` for a
 * class entity whatever its table is called; a string names an entity (or a junction table)
 * directly.
 */

/** Any function or class. */
export type AnyFunction = (...args: any[]) => unknown;

/** An entity class, or an entity name. */
export type EntityRef = abstract new (...args: any[]) => unknown | string;

/** The name tags use for an entity. */
export function entityName(
  entity: EntityRef | string | AnyFunction | (abstract new (...args: any[]) => unknown),
): string {
  if (typeof entity === 'string' && entity !== '') return entity;
  if (typeof entity === 'function' && entity.name) return entity.name;
  throw new CacheConfigError('entity', entity, 'expected an entity class or a non-empty entity name');
}

/** The tag every entry that read `entity`'s table carries: `table:<Entity>`. */
export function tableTag(
  entity: EntityRef | string | AnyFunction | (abstract new (...args: any[]) => unknown),
): string {
  return `table:${entityName(entity)}`;
}

/**
 * The tag bumped when some rows of `entity` changed but which ones is unknown (a bulk
 * `update`/`delete`, raw SQL). Entries that hold rows by id carry it beside their row tags, so
 * that such a write reaches them while a write to another known row does not.
 */
export function anyRowTag(
  entity: EntityRef | string | AnyFunction | (abstract new (...args: any[]) => unknown),
): string {
  return `rows:${entityName(entity)}`;
}

/** The tag of one row: `row:<Entity>:<id>`; composite ids are encoded stably. */
export function rowTag(
  entity: EntityRef | string | AnyFunction | (abstract new (...args: any[]) => unknown),
  id: unknown,
): string {
  const k = typeof id === 'string' || typeof id === 'number' ? String(id) : stableKey(id, 'id');
  return `row:${entityName(entity)}:${k}`;
}
