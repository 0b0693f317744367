import type { Cache } from '../cache';

let registered: Cache | undefined;

/**
 * Registers the cache that decorators use when neither their options nor the instance name
 * one. Optional: passing a cache explicitly is always possible. `undefined` unregisters.
 */
export function setDefaultCache(cache: Cache | undefined): void {
  registered = cache;
}

/** The registered default cache, if any. */
export function getDefaultCache(): Cache | undefined {
  return registered;
}
