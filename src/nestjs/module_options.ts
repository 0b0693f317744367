import type { Cache } from '../cache';
import type { CacheOptions } from '../engine/options';
import type { InvalidationOptions } from '../typeorm/invalidation_subscriber';
import type { WarmingOptions } from '../warming/warming_options';
import type { WriteBehindOptions } from '../write_behind/write_behind_options';

/** How the module plugs the cache into the DataSource that @nestjs/typeorm manages. */
export interface CachekitTypeOrmModuleOptions {
  /** The @nestjs/typeorm DataSource name (its `name` option). Default: the default DataSource. */
  dataSource?: string;
  /** Serve TypeORM's query cache (`.cache(true)`, `cache: true` in find options) from this cache. Default true. */
  queryCache?: boolean;
  /**
   * Write-behind for `@CachePolicy({ strategy: 'write-behind' })` entities: options, `true`, or
   * `false`. Default: started with default options when the DataSource has such an entity.
   */
  writeBehind?: boolean | WriteBehindOptions;
  /** Options of the invalidation subscriber (`onError`, …). */
  invalidation?: InvalidationOptions;
}

/** What `CachekitModule.forRoot` (or the factory of `forRootAsync`) gives. */
export interface CachekitModuleOptions {
  /** A `Cache`, or the options to build one with (`cacheOptionsFromConfig(...)` maps a config file). Default: an L1-only cache. */
  cache?: Cache | (CacheOptions & { warming?: WarmingOptions });
  /**
   * TypeORM integration: options, or `false` for none. Default: attached to the default
   * DataSource when one is registered, skipped otherwise. Given explicitly, a missing
   * DataSource is a `CacheConfigError` at start-up.
   */
  typeorm?: false | CachekitTypeOrmModuleOptions;
  /**
   * Make this the cache that decorated methods (`@Cacheable` …) use when they name none.
   * Default: true for the default cache, false for a named one.
   */
  defaultForDecorators?: boolean;
  /** Close the cache at application shutdown. Default true (set false for a cache you close yourself). */
  closeOnShutdown?: boolean;
}

/** Where the module is registered: static, because injection tokens derive from it. */
export interface CachekitModuleRegistration {
  /** The cache's name; inject it with `@InjectCache(name)`. Default `'default'` (inject `Cache`). */
  name?: string;
  /** Make the cache injectable in every module. Default true. */
  isGlobal?: boolean;
}

/** Options of `CachekitModule.forRootAsync`. */
export interface CachekitModuleAsyncOptions extends CachekitModuleRegistration {
  /** Modules that export the factory's dependencies (ConfigModule, …). */
  imports?: any[];
  /** Tokens whose values are passed to `useFactory`. */
  inject?: any[];
  /** Builds the module options, for example from a ConfigService. */
  useFactory: (...args: any[]) => CachekitModuleOptions | Promise<CachekitModuleOptions>;
}
