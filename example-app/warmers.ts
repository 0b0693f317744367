import { type Duration, warmMethod } from '../src';
import type { CatalogService } from './services/catalog_service';
import type { ViewCounter } from './services/view_counter';

/** How many of the most viewed products are kept warm. */
export const WARM_TOP = 10;

/**
 * Registers the warmer of the most viewed product pages: run by `cache.warm()` at startup, then
 * again every `every`, so products that became popular since are loaded before anyone asks.
 */
export function registerWarmers(catalog: CatalogService, views: ViewCounter, every: Duration): void {
  catalog.cache.warming.add(
    warmMethod(
      catalog,
      'product',
      async () => (await views.mostViewed(WARM_TOP)).map((id) => [id] as [number]),
      {
        name: 'most viewed products',
        onStartup: true,
        every,
      },
    ),
  );
}
