export { CachekitModule } from './cachekit_module';
export { Cachekit } from './cachekit';
export {
  DEFAULT_CACHE_NAME,
  InjectCache,
  getCacheToken,
  getCachekitToken,
  getCachekitOptionsToken,
} from './tokens';
export type {
  CachekitModuleOptions,
  CachekitModuleAsyncOptions,
  CachekitModuleRegistration,
  CachekitTypeOrmModuleOptions,
} from './module_options';
export {
  CacheRoute,
  NoCache,
  CACHE_ROUTE_METADATA,
  NO_CACHE_METADATA,
  type CacheRouteOptions,
  type RouteTag,
  type RouteRequest,
} from './cache_route';
export { CacheRouteInterceptor } from './cache_route_interceptor';
