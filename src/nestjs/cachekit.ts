import type { BeforeApplicationShutdown, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource, ObjectLiteral, Repository } from 'typeorm';
import { Cache } from '../cache';
import { getEntityCachePolicy } from '../decorators/cache_policy';
import { getDefaultCache, setDefaultCache } from '../decorators/default_cache';
import { CacheConfigError } from '../errors';
import type { CachedRepository } from '../typeorm/entity_cache';
import { CacheInvalidationSubscriber } from '../typeorm/invalidation_subscriber';
import { cachekitTypeOrm, type CachekitTypeOrm } from '../typeorm/setup';
import { startWriteBehind } from '../typeorm/write_behind_flusher';
import { writeBehindOf } from '../typeorm/write_behind_registry';
import type { WriteBehind } from '../write_behind/write_behind';
import type { CachekitModuleOptions } from './module_options';
import { DEFAULT_CACHE_NAME } from './tokens';

/**
 * One cache of a Nest application and what the module wired around it: the TypeORM subscriber
 * and query cache on the managed DataSource, and write-behind. Its Nest lifecycle hooks attach
 * them at start-up and take everything down at shutdown. Inject it with `@Inject(getCachekitToken())`.
 */
export class Cachekit implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  /** The cache (also injectable on its own). */
  readonly cache: Cache;
  private typeOrmPieces: CachekitTypeOrm | undefined;
  private ds: DataSource | undefined;
  private ownQueryCache = false;
  private ownWriteBehind: WriteBehind | undefined;
  private shutDown = false;

  constructor(
    /** The cache's name in the module. */
    readonly name: string,
    private readonly options: CachekitModuleOptions,
    private readonly moduleRef: ModuleRef,
  ) {
    const given = options.cache;
    this.cache = given instanceof Cache ? given : new Cache(given);
    // At construction, so that providers' own onModuleInit hooks already find it.
    if (options.defaultForDecorators ?? name === DEFAULT_CACHE_NAME) setDefaultCache(this.cache);
  }

  /** The DataSource the module attached to, once the application is initialized. */
  get dataSource(): DataSource | undefined {
    return this.ds;
  }

  /** The write-behind the module started, if it started one. */
  get writeBehind(): WriteBehind | undefined {
    return this.ownWriteBehind;
  }

  /**
   * A repository whose `findOneById` reads through this cache and whose `save`/`remove` follow
   * the entity's `@CachePolicy` (write-through, write-behind).
   */
  repository<E extends ObjectLiteral>(repository: Repository<E>): CachedRepository<E> {
    if (this.typeOrmPieces === undefined) {
      throw new CacheConfigError(
        'typeorm',
        this.options.typeorm,
        `cache "${this.name}" has no TypeORM DataSource attached (is TypeOrmModule.forRoot imported, and the application initialized?)`,
      );
    }
    return this.typeOrmPieces.repository(repository);
  }

  /** Attaches the invalidation subscriber, the query cache and write-behind to the managed DataSource. */
  onModuleInit(): void {
    const o = this.options.typeorm;
    if (o === false) return;
    const ds = this.findDataSource(o?.dataSource, o !== undefined);
    if (ds === undefined) return;
    this.ds = ds;
    const ck = cachekitTypeOrm(this.cache, o?.invalidation);
    this.typeOrmPieces = ck;
    // A DataSource wired by hand (subscribers: [ck.Subscriber]) already invalidates: a second
    // subscriber would only double the work.
    const handWired = ds.subscribers.some((s) => s instanceof CacheInvalidationSubscriber);
    if (!handWired) ck.register(ds);
    // Our provider asks our subscriber which transactions wrote, so it needs ours registered.
    if (!handWired && o?.queryCache !== false && ds.queryResultCache === undefined) {
      // TypeORM reads `queryResultCache` at each cached query; `options.cache` is only needed
      // for `alwaysEnabled` and its default duration, which the cache's TTLs replace.
      (ds as { queryResultCache: unknown }).queryResultCache = ck.provider(ds);
      this.ownQueryCache = true;
    }
    const wb = o?.writeBehind;
    const wanted =
      wb === undefined
        ? ds.entityMetadatas.some(
            (m) =>
              typeof m.target === 'function' &&
              getEntityCachePolicy(m.target as abstract new () => unknown).strategy === 'write-behind',
          )
        : wb !== false;
    if (wanted && writeBehindOf(ds) === undefined) {
      this.ownWriteBehind = startWriteBehind(ds, this.cache, typeof wb === 'object' ? wb : undefined);
    }
  }

  /** Flushes write-behind while the DataSource is still open (@nestjs/typeorm destroys it in the next phase). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.ownWriteBehind?.close();
  }

  /** Detaches from the DataSource and closes the cache (schedulers, refreshers, bus, L2 connections). */
  async onApplicationShutdown(): Promise<void> {
    if (this.shutDown) return;
    this.shutDown = true;
    const ds = this.ds;
    if (ds !== undefined) {
      const i = ds.subscribers.indexOf(this.typeOrmPieces!.subscriber);
      if (i >= 0) ds.subscribers.splice(i, 1);
      if (this.ownQueryCache) (ds as { queryResultCache: unknown }).queryResultCache = undefined;
    }
    if (getDefaultCache() === this.cache) setDefaultCache(undefined);
    if (this.options.closeOnShutdown !== false) await this.cache.close();
  }

  private findDataSource(name: string | undefined, required: boolean): DataSource | undefined {
    const token = getDataSourceToken(name);
    try {
      return this.moduleRef.get<DataSource>(token, { strict: false });
    } catch (err) {
      if (!required) return undefined;
      throw new CacheConfigError(
        'typeorm.dataSource',
        name ?? 'default',
        `no @nestjs/typeorm DataSource "${name ?? 'default'}" is registered (import TypeOrmModule.forRoot${name ? `({ name: '${name}', … })` : ''}): ${(err as Error).message}`,
      );
    }
  }
}
