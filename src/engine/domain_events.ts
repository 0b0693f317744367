import { CacheConfigError } from '../errors';
import { stableKey } from './keys';

/**
 * Domain-event invalidation (`invalidateOn`). Events are mapped onto versioned tags, so an
 * emit costs what `invalidateTags` costs and reaches other instances' L1 over the same bus:
 *
 * - every entry of a listening policy carries `policy:<name>`; an event without ids bumps it;
 * - per entity the policy hears of (`product` in `product.updated`), an entry also carries either
 *   `policy:<name>:<entity>:<id>` for each row of that entity it declared (a `row:<Entity>:<id>`
 *   tag given by the caller, not one captured from what the loader read), or
 *   `policy:<name>:<entity>:*` when it declared none. An event with ids bumps the id tags and the
 *   `*` tag: the rows' own entries go, and so does every entry not tied to particular rows.
 */

/** What `cache.emit` takes beside the event name; other fields are ignored. */
export interface DomainEventPayload {
  /** The id of the row the event is about (a value, or an object for a composite key). */
  id?: unknown;
  /** The ids of the rows the event is about. */
  ids?: readonly unknown[];
  [field: string]: unknown;
}

/** One policy's view of the events it listens to. */
export interface PolicyListener {
  /** The policy's name. */
  readonly policy: string;
  /** The entity of each event it listens to (`product` for `product.updated`), without repeats. */
  readonly entities: readonly string[];
}

/** Cache events (`on('hit')`): never domain events, so that `emit('hit')` cannot be a silent no-op. */
const CACHE_EVENTS = new Set(['hit', 'miss', 'set', 'delete', 'invalidate', 'circuit', 'error']);

/** Checks a domain event name: a non-empty string without whitespace that is not a cache event. */
export function validateEventName(option: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || /\s/.test(name)) {
    throw new CacheConfigError(option, name, 'expected an event name like "user.updated"');
  }
  if (CACHE_EVENTS.has(name)) {
    throw new CacheConfigError(
      option,
      name,
      `"${name}" is a cache event (listen to it with cache.on); domain events look like "user.updated"`,
    );
  }
}

/** The entity part of an event name: before its last dot, first letter lowercased. */
export function eventEntity(name: string): string {
  const dot = name.lastIndexOf('.');
  return lowerFirst(dot > 0 ? name.slice(0, dot) : name);
}

/** `Product` → `product`, `OrderItem` → `orderItem`: how entity names appear in event names. */
export function lowerFirst(s: string): string {
  return s === '' ? s : s[0].toLowerCase() + s.slice(1);
}

/** Validates a policy's `invalidateOn` and returns its listener, or undefined when it listens to nothing. */
export function policyListener(path: string, policy: string, events: unknown): PolicyListener | undefined {
  if (events === undefined) return undefined;
  if (!Array.isArray(events)) throw new CacheConfigError(path, events, 'expected an array of event names');
  events.forEach((e, i) => validateEventName(`${path}[${i}]`, e));
  if (events.length === 0) return undefined;
  return { policy, entities: [...new Set((events as string[]).map(eventEntity))] };
}

/** The tag every entry of a listening policy carries. */
export function policyTag(policy: string): string {
  return `policy:${policy}`;
}

/** The tag of a listening policy's entries that declared row `id` of `entity`. */
export function policyRowTag(policy: string, entity: string, id: string): string {
  return `policy:${policy}:${entity}:${id}`;
}

/** The tag of a listening policy's entries that declared no row of `entity`. */
export function policyAnyRowTag(policy: string, entity: string): string {
  return `policy:${policy}:${entity}:*`;
}

/** An id as row tags encode it (the same encoding as `rowTag`). */
export function encodeId(id: unknown): string {
  return typeof id === 'string' || typeof id === 'number' ? String(id) : stableKey(id, 'id');
}

/** The ids of a payload, validated; undefined when it names no row. */
export function payloadIds(payload: unknown): unknown[] | undefined {
  if (payload === undefined || payload === null) return undefined;
  if (typeof payload !== 'object' || Array.isArray(payload)) {
    throw new CacheConfigError('payload', payload, 'expected an object such as { id } or { ids }');
  }
  const p = payload as DomainEventPayload;
  const out: unknown[] = [];
  if (p.id !== undefined) {
    if (p.id === null) throw new CacheConfigError('payload.id', p.id, 'expected an id, not null');
    out.push(p.id);
  }
  if (p.ids !== undefined) {
    if (!Array.isArray(p.ids)) throw new CacheConfigError('payload.ids', p.ids, 'expected an array of ids');
    p.ids.forEach((id, i) => {
      if (id === undefined || id === null)
        throw new CacheConfigError(`payload.ids[${i}]`, id, 'expected an id');
      out.push(id);
    });
  }
  // `{ ids: [] }` names no row: invalidating everything would surprise, nothing is what it says.
  return p.id === undefined && p.ids === undefined ? undefined : out;
}

/** The tags an event bumps, given the policies that listen to it. */
export function eventTags(
  name: string,
  listeners: readonly PolicyListener[],
  ids: unknown[] | undefined,
): string[] {
  const out: string[] = [];
  if (ids === undefined) {
    for (const l of listeners) out.push(policyTag(l.policy));
    return out;
  }
  if (ids.length === 0) return out;
  const entity = eventEntity(name);
  const keys = ids.map(encodeId);
  for (const l of listeners) {
    out.push(policyAnyRowTag(l.policy, entity));
    for (const k of keys) out.push(policyRowTag(l.policy, entity, k));
  }
  return out;
}

/** The tags an entry of a listening policy carries, from the row tags it declared. */
export function listenerEntryTags(l: PolicyListener, declared: Iterable<string>): string[] {
  const rows = new Map<string, string[]>();
  for (const t of declared) {
    if (!t.startsWith('row:')) continue;
    const colon = t.indexOf(':', 4);
    if (colon < 0) continue;
    const entity = lowerFirst(t.slice(4, colon));
    let ids = rows.get(entity);
    if (ids === undefined) rows.set(entity, (ids = []));
    ids.push(t.slice(colon + 1));
  }
  const out = [policyTag(l.policy)];
  for (const e of l.entities) {
    const ids = rows.get(e);
    if (ids === undefined) out.push(policyAnyRowTag(l.policy, e));
    else for (const id of ids) out.push(policyRowTag(l.policy, e, id));
  }
  return out;
}
