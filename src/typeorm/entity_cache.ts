import {
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

/** The cache key of one entity row: `entity:<Entity>:<id>` (the id encoded as in its row tag). */
export function entityKey(metadata: EntityMetadata, id: unknown): string {
  return `entity:${rowTag(metadata.name, id).slice('row:'.length)}`;
}

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
    const v = await this.cache.getOrLoad(
      entityKey(m, id),
      (ctx) => {
        ctx.addTags(...tags);
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

  /** A value read back from L2 is a plain object: make it an entity instance again. */
  private hydrate(v: E): E {
    const target = this.repository.target;
    return typeof target === 'function' && v instanceof target
      ? v
      : this.repository.create(v as DeepPartial<E>);
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
