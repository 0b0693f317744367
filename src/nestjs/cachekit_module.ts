import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { CacheConfigError } from '../errors';
import { Cachekit } from './cachekit';
import type {
  CachekitModuleAsyncOptions,
  CachekitModuleOptions,
  CachekitModuleRegistration,
} from './module_options';
import { DEFAULT_CACHE_NAME, getCacheToken, getCachekitOptionsToken, getCachekitToken } from './tokens';

/**
 * The cachekit module: one `Cache` per registration, injectable (`Cache`, or `@InjectCache(name)`),
 * wired into the DataSource of @nestjs/typeorm (invalidation subscriber, query cache,
 * write-behind), the default of decorated methods, and taken down on application shutdown.
 *
 * ```ts
 * @Module({ imports: [TypeOrmModule.forRoot({ ... }), CachekitModule.forRoot({ cache: { l2: new RedisStore({ url }) } })] })
 * ```
 */
@Module({})
export class CachekitModule {
  /** Registers a cache built from `options` (a `Cache`, or the options to build one). */
  static forRoot(options: CachekitModuleOptions & CachekitModuleRegistration = {}): DynamicModule {
    const { name, isGlobal, ...rest } = options;
    const n = checkName(name);
    return build(n, isGlobal, [], { provide: getCachekitOptionsToken(n), useValue: rest });
  }

  /** Registers a cache whose options a factory gives, for example from a ConfigService. */
  static forRootAsync(options: CachekitModuleAsyncOptions): DynamicModule {
    if (typeof options?.useFactory !== 'function')
      throw new CacheConfigError(
        'useFactory',
        options?.useFactory,
        'expected a function returning the module options',
      );
    const n = checkName(options.name);
    return build(n, options.isGlobal, options.imports ?? [], {
      provide: getCachekitOptionsToken(n),
      useFactory: options.useFactory,
      inject: options.inject ?? [],
    });
  }
}

function checkName(name: unknown): string {
  if (name === undefined) return DEFAULT_CACHE_NAME;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name))
    throw new CacheConfigError('name', name, 'expected a cache name of letters, digits, "_", "." or "-"');
  return name;
}

function build(
  name: string,
  isGlobal: boolean | undefined,
  imports: any[],
  optionsProvider: Provider,
): DynamicModule {
  const handle = getCachekitToken(name);
  const cacheToken = getCacheToken(name);
  return {
    module: CachekitModule,
    global: isGlobal ?? true,
    imports,
    providers: [
      optionsProvider,
      {
        provide: handle,
        useFactory: (o: CachekitModuleOptions, moduleRef: ModuleRef) =>
          new Cachekit(name, o ?? {}, moduleRef),
        inject: [getCachekitOptionsToken(name), ModuleRef],
      },
      { provide: cacheToken, useFactory: (k: Cachekit) => k.cache, inject: [handle] },
    ],
    exports: [handle, cacheToken],
  };
}
