export { KeyvStore, type KeyvStoreOptions } from './keyv_store';
