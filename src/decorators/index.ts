export { Cacheable, type CacheableOptions } from './cacheable';
export { CacheEvict, type CacheEvictOptions } from './cache_evict';
export { CachePut, type CachePutOptions } from './cache_put';
export { CacheTags } from './cache_tags';
export {
  CachePolicy,
  getEntityCachePolicy,
  type EntityCachePolicy,
  type EntityCacheStrategy,
} from './cache_policy';
export { setDefaultCache, getDefaultCache } from './default_cache';
export type { CacheOption, DecoratorCacheOptions } from './decorator_support';
export type { TagSpec } from './tag_specs';
export type { MethodDecoratorBoth, TypedMethodDecorator } from './method_decorator';
