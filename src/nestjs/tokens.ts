import { Inject } from '@nestjs/common';
import { Cache } from '../cache';

/** The name of the cache `CachekitModule.forRoot` registers when none is given. */
export const DEFAULT_CACHE_NAME = 'default';

/**
 * The injection token of a cache. The default cache is injected by its class
 * (`constructor(private readonly cache: Cache)`); a named one by `@InjectCache(name)`.
 */
export function getCacheToken(name: string = DEFAULT_CACHE_NAME): string | typeof Cache {
  return name === DEFAULT_CACHE_NAME ? Cache : `cachekit:cache:${name}`;
}

/** The injection token of a cache's `Cachekit` handle (its TypeORM pieces and write-behind). */
export function getCachekitToken(name: string = DEFAULT_CACHE_NAME): string {
  return `cachekit:handle:${name}`;
}

/** The injection token of a cache's module options. */
export function getCachekitOptionsToken(name: string = DEFAULT_CACHE_NAME): string {
  return `cachekit:options:${name}`;
}

/** Injects the cache named `name` (the default one without a name). */
export function InjectCache(name?: string): PropertyDecorator & ParameterDecorator {
  return Inject(getCacheToken(name));
}
