import type { ObjectLiteral, Repository, EntityMetadata, FindOptionsWhere, DeepPartial } from 'typeorm';
import type { Cache } from '../cache';
import type { CallOptions } from '../engine/options';
import { type EntityCachePolicy, getEntityCachePolicy } from '../decorators/cache_policy';
import { anyRowTag, rowTag } from '../tags/naming';
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
 * Entities by id, through the cache. Entries are tagged with their row, so a committed write to
 * that row (and any write whose rows are unknown) drops them; a write to another row does not.
 * For a `@CachePolicy({ strategy: 'write-through' })` entity, the subscriber stores the committed
 * state after each write, so the next read is a hit.
 */
export class CachedRepository<E extends ObjectLiteral> {
  private readonly options: CallOptions;
  private readonly policy: EntityCachePolicy;

  constructor(
    private readonly cache: Cache,
    /** The TypeORM repository reads fall back to. */
    readonly repository: Repository<E>,
  ) {
    this.policy = policyOf(repository.metadata);
    this.options = entryOptions(this.policy);
  }

  /** One entity by primary key (a value, or an object for composite keys); `null` when absent. */
  async findOneById(id: unknown): Promise<E | null> {
    const m = this.repository.metadata;
    const v = await this.cache.getOrLoad(
      entityKey(m, id),
      (ctx) => {
        ctx.addTags(...rowTags(m, id, this.policy));
        return this.repository.findOne({ where: whereId(m, id) as FindOptionsWhere<E> });
      },
      this.options,
    );
    return v === null || v === undefined ? null : this.hydrate(v);
  }

  /** Several entities by primary key, in the order given, missing ones left out. */
  async findByIds(ids: readonly unknown[]): Promise<E[]> {
    const found: (E | null)[] = await Promise.all(ids.map((id) => this.findOneById(id)));
    return found.filter((e): e is E => e !== null);
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
