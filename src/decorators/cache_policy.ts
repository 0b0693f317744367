import type { AnyFunction } from '../tags/naming';
import type { Duration } from '../engine/duration';
import { parseDuration } from '../engine/duration';
import { resolveJitter } from '../engine/ttl';
import { CacheConfigError } from '../errors';

/** How the TypeORM plugin keeps an entity's cached state in step with writes. */
export type EntityCacheStrategy = 'invalidate' | 'write-through' | 'write-behind';

/** An entity class's cache policy, as declared with `@CachePolicy`. */
export interface EntityCachePolicy {
  /** Default `'invalidate'`: writes bump the entity's tags after commit. */
  strategy: EntityCacheStrategy;
  /** TTL of cached rows of this entity. */
  ttl?: Duration;
  /** Extra tags every cached row of this entity carries. */
  tags?: readonly string[];
  negativeTtl?: Duration | false;
  sliding?: boolean;
  jitter?: number;
  /** A named policy of the cache to start from. */
  policy?: string;
}

const policies = new WeakMap<object, EntityCachePolicy>();
const STRATEGIES: readonly EntityCacheStrategy[] = ['invalidate', 'write-through', 'write-behind'];

/**
 * Declares an entity's cache policy, read by the TypeORM plugin. Options are checked here, so
 * a typo fails when the class loads. Works as a legacy and as a standard class decorator.
 */
export function CachePolicy(
  options: Partial<EntityCachePolicy> = {},
): (target: any, context?: unknown) => void {
  const policy = validatePolicy(options);
  return (target: AnyFunction) => {
    if (typeof target !== 'function')
      throw new CacheConfigError('CachePolicy', target, '@CachePolicy decorates entity classes');
    policies.set(target, policy);
  };
}

/** The cache policy of an entity class (inherited from a decorated parent), `'invalidate'` when none was declared. */
export function getEntityCachePolicy(
  entity: AnyFunction | (abstract new (...args: any[]) => unknown),
): EntityCachePolicy {
  for (
    let c: unknown = entity;
    typeof c === 'function' && c !== Function.prototype;
    c = Object.getPrototypeOf(c)
  ) {
    const p = policies.get(c as object);
    if (p) return p;
  }
  return { strategy: 'invalidate' };
}

function validatePolicy(o: Partial<EntityCachePolicy>): EntityCachePolicy {
  if (!o || typeof o !== 'object') throw new CacheConfigError('CachePolicy', o, 'expected an options object');
  const strategy = o.strategy ?? 'invalidate';
  if (!STRATEGIES.includes(strategy)) {
    throw new CacheConfigError(
      'strategy',
      strategy,
      `expected one of ${STRATEGIES.map((s) => `'${s}'`).join(', ')}`,
    );
  }
  if (o.ttl !== undefined) parseDuration('ttl', o.ttl);
  if (o.negativeTtl !== undefined && o.negativeTtl !== false) parseDuration('negativeTtl', o.negativeTtl);
  if (o.jitter !== undefined) resolveJitter('jitter', o.jitter);
  if (o.sliding !== undefined && typeof o.sliding !== 'boolean')
    throw new CacheConfigError('sliding', o.sliding, 'expected true or false');
  if (
    o.tags !== undefined &&
    (!Array.isArray(o.tags) || o.tags.some((t) => typeof t !== 'string' || t === ''))
  ) {
    throw new CacheConfigError('tags', o.tags, 'expected an array of tag names');
  }
  return { ...o, strategy };
}
