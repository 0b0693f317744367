import {
  type DataSource,
  type ObjectLiteral,
  type Repository,
  type EntityMetadata,
  type FindOptionsWhere,
  type DeepPartial,
  type FindOneOptions,
  type FindManyOptions,
  In,
} from 'typeorm';
import type { Cache } from '../cache';
import type { CallOptions } from '../engine/options';
import { currentLoad } from '../engine/load_scope';
import { type EntityCachePolicy, getEntityCachePolicy } from '../decorators/cache_policy';
import { anyRowTag, rowTag, tableTag } from '../tags/naming';
import { argsKey } from '../engine/keys';
import type { WrittenRow } from './invalidation_subscriber';
import { CacheWriteError } from '../errors';
import type { PendingState, WriteBehind } from '../write_behind/write_behind';
import { writeBehindOf } from './write_behind_registry';
import { fitDatesToColumns } from './stored_dates';

/** The cache key of one entity row: `entity:<Entity>:<id>` (the id encoded as in its row tag). */
export function entityKey(metadata: EntityMetadata, id: unknown): string {
  return ENTITY_KEY_HEAD + rowTag(metadata.name, id).slice('row:'.length);
}

const ENTITY_KEY_HEAD = 'entity:';

/** Tags of a cached row: its own, the entity's any-row tag, and the policy's extra tags. */
function rowTags(metadata: EntityMetadata, id: unknown, policy: EntityCachePolicy): string[] {
  return [rowTag(metadata.name, id), anyRowTag(metadata.name), ...(policy.tags ?? [])];
}

function policyOf(metadata: EntityMetadata): EntityCachePolicy {
  return typeof metadata.target === 'function'
    ? getEntityCachePolicy(metadata.target as abstract new (...args: any[]) => unknown)
    : { strategy: 'invalidate' };
}

/** Entry settings from an entity's @CachePolicy; row tags are added per row. */
function entryOptions(policy: EntityCachePolicy): CallOptions {
  return {
    ttl: policy.ttl,
    negativeTtl: policy.negativeTtl,
    sliding: policy.sliding,
    jitter: policy.jitter,
    policy: policy.policy,
    // The row tags say exactly what this entry depends on; capture would add the table's.
    captureDependencies: false,
  };
}

function whereId(metadata: EntityMetadata, id: unknown): FindOptionsWhere<ObjectLiteral> {
  if (metadata.primaryColumns.length === 1) return { [metadata.primaryColumns[0].propertyName]: id };
  return id as FindOptionsWhere<ObjectLiteral>;
}

/**
 * Most bound parameters one batch query uses. Far below every driver's limit (SQLite 32766,
 * PostgreSQL 65535), so that any realistic `findByIds` is one query and a huge one still runs.
 */
const MAX_BATCH_PARAMETERS = 10_000;

/** The WHERE of a batch: `pk IN (…)` for a single key, one OR branch per id for a composite one. */
function whereIds(
  metadata: EntityMetadata,
  ids: readonly unknown[],
): FindOptionsWhere<ObjectLiteral> | FindOptionsWhere<ObjectLiteral>[] {
  if (metadata.primaryColumns.length === 1) return { [metadata.primaryColumns[0].propertyName]: In(ids) };
  return ids as FindOptionsWhere<ObjectLiteral>[];
}

/**
 * Matches loaded rows to requested ids by their primary-key values as strings: the database may
 * hand back another type than the caller passed (`'7'` for a bigint, 7 requested).
 */
function pkString(metadata: EntityMetadata, idOrRow: unknown): string {
  const cols = metadata.primaryColumns;
  if (cols.length === 1 && (typeof idOrRow !== 'object' || idOrRow === null || idOrRow instanceof Date)) {
    return String(idOrRow);
  }
  return cols.map((c) => String(c.getEntityValue(idOrRow as ObjectLiteral))).join('\u0000');
}

/**
 * Entities by id, through the cache. Entries are tagged with their row, so a committed write to
 * that row (and any write whose rows are unknown) drops them; a write to another row does not.
 * For a `@CachePolicy({ strategy: 'write-through' })` entity, the subscriber stores the committed
 * state after each write, so the next read is a hit.
 */
export class CachedRepository<E extends ObjectLiteral> {
  private readonly options: CallOptions;
  private readonly policy: EntityCachePolicy;

  /** Queries (`findOne`/`find` by options) keep the policy's TTLs but capture what they read. */
  private readonly queryOptions: CallOptions;

  constructor(
    private readonly cache: Cache,
    /** The TypeORM repository reads fall back to. */
    readonly repository: Repository<E>,
  ) {
    this.policy = policyOf(repository.metadata);
    this.options = entryOptions(this.policy);
    this.queryOptions = { ...this.options, captureDependencies: true };
  }

  /** One entity by primary key (a value, or an object for composite keys); `null` when absent. */
  async findOneById(id: unknown): Promise<E | null> {
    const m = this.repository.metadata;
    const tags = rowTags(m, id, this.policy);
    const key = entityKey(m, id);
    const v = await this.cache.getOrLoad(
      key,
      async (ctx) => {
        ctx.addTags(...tags);
        // A write-behind save not flushed yet is newer than the database (its entry was evicted,
        // or a save raced this load): show it. A save after this check bumps the row's tags,
        // which makes what this load stores stale.
        const pending = await this.pendingStates([key]);
        if (pending === undefined) ctx.doNotCache();
        else if (pending[0] !== undefined) return pending[0].op === 'save' ? (pending[0].value as E) : null;
        return this.repository.findOne({ where: whereId(m, id) as FindOptionsWhere<E> });
      },
      this.options,
    );
    // A cached loader that got this row (a hit loads nothing, a miss may find nothing) depends
    // on it: without these tags its entry would outlive the next write to the row.
    currentLoad()?.addTags(...tags);
    return v === null || v === undefined ? null : this.hydrate(v);
  }

  /**
   * Several entities by primary key, in the order given (a repeated id is repeated), missing ones
   * left out. Hits come from the cache; all misses are loaded with one query and stored, rows
   * that do not exist as negative entries (per the entity's `negativeTtl`).
   */
  async findByIds(ids: readonly unknown[]): Promise<E[]> {
    const m = this.repository.metadata;
    const keys = ids.map((id) => entityKey(m, id));
    const hits = await Promise.all(keys.map((k) => this.cache.getEntry<E | null>(k)));
    const values = new Map<string, E | null | undefined>();
    const missing = new Map<string, unknown>();
    hits.forEach((hit, i) => {
      if (hit !== undefined) values.set(keys[i], hit.value);
      else missing.set(keys[i], ids[i]);
    });
    if (missing.size > 0) {
      // Captured before the query: a write committing meanwhile leaves what we store already stale.
      const since = await this.cache.captureVersion();
      // Write-behind saves not flushed yet are newer than the database (see findOneById).
      const missingKeys = [...missing.keys()];
      const pending = await this.pendingStates(missingKeys);
      pending?.forEach((p, i) => {
        if (p === undefined) return;
        const key = missingKeys[i];
        values.set(key, p.op === 'save' ? (p.value as E) : null);
        missing.delete(key);
      });
      const wanted = [...missing.values()];
      const perQuery = Math.max(1, Math.floor(MAX_BATCH_PARAMETERS / m.primaryColumns.length));
      const rows = new Map<string, E>();
      for (let i = 0; i < wanted.length; i += perQuery) {
        const found = await this.repository.find({
          where: whereIds(m, wanted.slice(i, i + perQuery)) as FindOptionsWhere<E>[],
        });
        for (const row of found) rows.set(pkString(m, row), row);
      }
      await Promise.all(
        [...missing].map(([key, id]) => {
          const row = rows.get(pkString(m, id)) ?? null;
          values.set(key, row);
          // Pending writes could not be checked: the row may be older than one of them.
          if (pending === undefined) return;
          return this.cache.set(key, row, { ...this.options, tags: rowTags(m, id, this.policy), since });
        }),
      );
    }
    const load = currentLoad();
    if (load !== undefined) for (const id of ids) load.addTags(...rowTags(m, id, this.policy));
    const out: E[] = [];
    for (const k of keys) {
      const v = values.get(k);
      if (v !== null && v !== undefined) out.push(this.hydrate(v));
    }
    return out;
  }

  /**
   * `repository.findOne(options)` through the cache, keyed by the options themselves, so a hit
   * costs no SQL building and no hydration (TypeORM's query cache pays both on every hit). The
   * entry depends on every row and table the query read (read-dependency capture, plus the
   * entity's table tag so it holds without the subscriber's capture too). Options that cannot
   * be keyed (e.g. functions) go straight to the database.
   */
  async findOne(options: FindOneOptions<E>): Promise<E | null> {
    const v = await this.cachedQuery('findOne', options, () => this.repository.findOne(options));
    return v === null || v === undefined ? null : this.hydrate(v);
  }

  /** `repository.find(options)` through the cache, as `findOne`. */
  async find(options: FindManyOptions<E> = {}): Promise<E[]> {
    const v = await this.cachedQuery('find', options, () => this.repository.find(options));
    return (v ?? []).map((e) => this.hydrate(e));
  }

  private cachedQuery<T>(kind: string, options: object, load: () => Promise<T>): Promise<T> {
    const m = this.repository.metadata;
    let key: string;
    try {
      key = `query:${m.name}:${kind}:${argsKey([options])}`;
    } catch {
      return load();
    }
    const table = tableTag(m.name);
    return this.cache.getOrLoad(
      key,
      (ctx) => {
        ctx.addTags(table);
        return load();
      },
      this.queryOptions,
    );
  }

  /**
   * The pending (not yet flushed) write-behind state of each row, for a write-behind entity
   * whose write-behind runs (`undefined` entries otherwise); `undefined` altogether when the
   * queue cannot be read, and what the database says must then not be cached.
   */
  private async pendingStates(keys: readonly string[]): Promise<(PendingState | undefined)[] | undefined> {
    if (this.policy.strategy !== 'write-behind') return keys.map(() => undefined);
    const wb = writeBehindOf(this.repository.manager.connection);
    return wb === undefined ? keys.map(() => undefined) : wb.tryPendingStates(keys);
  }

  /** A value read back from L2 is a plain object: make it an entity instance again. */
  private hydrate(v: E): E {
    const target = this.repository.target;
    return typeof target === 'function' && v instanceof target
      ? v
      : this.repository.create(v as DeepPartial<E>);
  }

  /**
   * Saves an entity. For a `@CachePolicy({ strategy: 'write-behind' })` entity, the new state
   * goes into the cache and the write-behind queue, and the promise resolves once the queue
   * holds it (in Redis, with a `RedisStreamQueue`): that is the acknowledgment. The database
   * gets it at the next flush (`startWriteBehind`). Reads by id through this repository
   * (`findOneById`, `findByIds`) see it at once; queries, this repository's included, see it
   * only after the flush (`writeBehind.flush()` waits for it).
   * The primary key is required: there is no database round trip to generate one. Properties
   * left undefined keep their current values. Other entities are saved through TypeORM.
   */
  async save(entity: DeepPartial<E>): Promise<E> {
    if (this.policy.strategy !== 'write-behind') return this.repository.save(entity);
    const m = this.repository.metadata;
    const wb = writeBehindFor(this.cache, m, this.repository.manager.connection);
    const id = primaryKeyOf(m, entity);
    const key = entityKey(m, id);
    let state: E | undefined;
    await wb.write({
      entity: m.name,
      key,
      op: 'save',
      value: async () => {
        // Runs in the row's turn: an earlier save of this process is already visible.
        let base: unknown;
        if (!isComplete(m, entity as ObjectLiteral)) {
          const pending = await wb.pendingState(key);
          base =
            pending !== undefined
              ? pending.op === 'save'
                ? pending.value
                : null
              : await this.findOneById(id);
        }
        state = this.repository.create({ ...(base ?? {}), ...definedProps(entity) } as DeepPartial<E>);
        fitDatesToColumns(this.repository.manager.connection, m, state);
        return state;
      },
    });
    return state!;
  }

  /**
   * Removes an entity, given as an entity or by primary key. A write-behind entity gets a
   * tombstone in the cache (reads return `null` at once) and a delete in the queue; other
   * entities are removed through TypeORM.
   */
  async remove(entityOrId: E | unknown): Promise<void> {
    const m = this.repository.metadata;
    const id = idOf(m, entityOrId);
    if (this.policy.strategy !== 'write-behind') {
      await this.repository.delete(id as never);
      return;
    }
    const wb = writeBehindFor(this.cache, m, this.repository.manager.connection);
    await wb.write({ entity: m.name, key: entityKey(m, id), op: 'remove', value: id });
  }
}

/**
 * What the subscriber does with a row after its write committed and its tags were bumped:
 * a removed row's entry is deleted; a write-through entity's entry is set to the committed
 * state, reloaded by id (the event's entity may be partial). The version is captured before the
 * reload, so a write that commits in between makes the stored state stale at once.
 */
export async function writeThroughRow(cache: Cache, row: WrittenRow): Promise<void> {
  const key = entityKey(row.metadata, row.id);
  if (row.removed) {
    await cache.delete(key);
    return;
  }
  const policy = policyOf(row.metadata);
  if (policy.strategy !== 'write-through') return;
  const since = await cache.captureVersion();
  const fresh = await row.dataSource.manager.findOne(row.metadata.target, {
    where: whereId(row.metadata, row.id),
  });
  await cache.set(key, fresh, {
    ...entryOptions(policy),
    tags: rowTags(row.metadata, row.id, policy),
    since,
  });
}

/** Cache settings of a row's by-id entry, as `findOneById` stores it: the entity's options and the row's tags. */
export interface RowEntryOptions {
  /** TTLs and flags from @CachePolicy: one object per entity and operation, so the cache resolves it once. */
  readonly options: CallOptions;
  /** The row's tags (its own, the entity's any-row tag, the policy's extra tags). */
  readonly tags: readonly string[];
  /** The row's own tag: what a write to the row moves. */
  readonly bump: readonly string[];
}

const writeOptions = new WeakMap<EntityMetadata, { save: CallOptions; remove: CallOptions }>();

/**
 * The entry settings of the row cached under `key` (an `entityKey`), for a save or for the
 * tombstone of a remove. The row's tag is read off the key, which holds the same encoded id.
 */
export function rowEntryOptions(
  metadata: EntityMetadata,
  key: string,
  op: 'save' | 'remove',
): RowEntryOptions {
  let o = writeOptions.get(metadata);
  if (o === undefined) {
    const save = entryOptions(policyOf(metadata));
    // A tombstone must outlast the flush; the default negative TTL (30 s) might not.
    const negativeTtl = typeof save.ttl === 'function' ? undefined : (save.ttl ?? '5m');
    o = { save, remove: { ...save, negativeTtl } };
    writeOptions.set(metadata, o);
  }
  const policy = policyOf(metadata);
  const row = `row:${key.slice(ENTITY_KEY_HEAD.length)}`;
  const tags = [row, anyRowTag(metadata.name)];
  if (policy.tags !== undefined) tags.push(...policy.tags);
  return { options: op === 'save' ? o.save : o.remove, tags, bump: [row] };
}

/** The running write-behind a write-behind entity's writes go to; a setup mistake is a typed error. */
function writeBehindFor(cache: Cache, m: EntityMetadata, ds: DataSource): WriteBehind {
  const wb = writeBehindOf(ds);
  if (wb === undefined) {
    throw new CacheWriteError(
      m.name,
      "its @CachePolicy is 'write-behind' but no write-behind runs for its DataSource: call startWriteBehind(dataSource, cache) at startup",
    );
  }
  if (wb.cache !== cache) {
    throw new CacheWriteError(
      m.name,
      'the repository and the write-behind use different caches: reads would not see the writes',
    );
  }
  return wb;
}

/** The primary key of an entity to write (a value, or an object for composite keys); required. */
function primaryKeyOf(m: EntityMetadata, entity: unknown): unknown {
  if (typeof entity !== 'object' || entity === null) {
    throw new CacheWriteError(
      m.name,
      `expected an entity object, got ${entity === null ? 'null' : typeof entity}`,
    );
  }
  if (!m.hasAllPrimaryKeys(entity as ObjectLiteral)) {
    const names = m.primaryColumns.map((c) => c.propertyPath).join(', ');
    throw new CacheWriteError(
      m.name,
      `the primary key (${names}) is required: write-behind saves without a database round trip, so nothing can generate it`,
    );
  }
  return m.getEntityIdMixedMap(entity as ObjectLiteral);
}

/** The primary key named by an entity, an id object (composite keys) or a bare id. */
function idOf(m: EntityMetadata, entityOrId: unknown): unknown {
  if (typeof entityOrId === 'object' && entityOrId !== null && !(entityOrId instanceof Date))
    return primaryKeyOf(m, entityOrId);
  if (entityOrId === undefined || entityOrId === null || m.primaryColumns.length !== 1) {
    const names = m.primaryColumns.map((c) => c.propertyPath).join(', ');
    throw new CacheWriteError(m.name, `remove needs the entity or its primary key (${names})`);
  }
  return entityOrId;
}

/** Whether every column the database does not manage has a value (`null` counts). */
function isComplete(m: EntityMetadata, entity: ObjectLiteral): boolean {
  return m.columns.every(
    (c) =>
      c.isCreateDate ||
      c.isUpdateDate ||
      c.isDeleteDate ||
      c.isVersion ||
      c.isVirtual ||
      c.getEntityValue(entity) !== undefined,
  );
}

/** Own properties that are not `undefined`: a partial save changes only what it names. */
function definedProps(entity: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entity)) if (v !== undefined) out[k] = v;
  return out;
}
