import { SetMetadata } from '@nestjs/common';
import type { Duration } from '../engine/duration';
import { CacheConfigError } from '../errors';
import { isClass } from '../decorators/tag_specs';

/** Metadata key of `@CacheRoute`. */
export const CACHE_ROUTE_METADATA = 'cachekit:cache-route';
/** Metadata key of `@NoCache`. */
export const NO_CACHE_METADATA = 'cachekit:no-cache';

/** An entity class. */
type EntityClass = abstract new (...args: any[]) => unknown;

/**
 * A tag of a cached route: a name where `{param}` is replaced by the route (or query) parameter;
 * an entity class (its whole table); or `[Entity, 'param']` (the row whose id is that parameter).
 */
export type RouteTag = string | EntityClass | readonly [EntityClass, string];

/** What the interceptor sees of a request. */
export interface RouteRequest {
  readonly method: string;
  readonly params: Record<string, string>;
  readonly query: Record<string, unknown>;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** Options of `@CacheRoute`. */
export interface CacheRouteOptions {
  /** TTL of the cached response body. Default: the cache's. */
  ttl?: Duration;
  /** Tags, invalidated with `cache.invalidateTags` or by a TypeORM write to the entity. */
  tags?: readonly RouteTag[];
  /** When it returns false, the request bypasses the cache (no read, no write). */
  condition?: (request: RouteRequest) => boolean;
  /** The name of the cache to use. Default: the default cache. */
  cache?: string;
}

/** Caches a GET route's response through `CacheRouteInterceptor`, with a TTL and tags. */
export function CacheRoute(options: CacheRouteOptions = {}): MethodDecorator & ClassDecorator {
  if (options.tags !== undefined) {
    if (!Array.isArray(options.tags))
      throw new CacheConfigError('tags', options.tags, 'expected an array of tags');
    options.tags.forEach((t, i) => {
      const ok =
        (typeof t === 'string' && t !== '') ||
        isClass(t) ||
        (Array.isArray(t) && t.length === 2 && isClass(t[0]) && typeof t[1] === 'string');
      if (!ok)
        throw new CacheConfigError(
          `tags[${i}]`,
          t,
          "expected a tag name, an entity class, or [Entity, 'param']",
        );
    });
  }
  if (options.condition !== undefined && typeof options.condition !== 'function')
    throw new CacheConfigError('condition', options.condition, 'expected a function of the request');
  return SetMetadata(CACHE_ROUTE_METADATA, options);
}

/** Keeps a route (or a whole controller) out of `CacheRouteInterceptor`. */
export function NoCache(): MethodDecorator & ClassDecorator {
  return SetMetadata(NO_CACHE_METADATA, true);
}
