export {
  CacheInvalidationSubscriber,
  registerInvalidation,
  type InvalidationOptions,
} from './invalidation_subscriber';
export { tableTag, rowTag, anyRowTag, entityName } from '../tags/naming';
