import 'reflect-metadata';
import type { DataSource } from 'typeorm';
import type { Cache, Duration, WriteBehind } from '../src';
import { cachekitTypeOrm, startWriteBehind } from '../src/typeorm';
import { openBackends } from './backends';
import { seed } from './seed';
import { CatalogService } from './services/catalog_service';
import { InventoryService } from './services/inventory_service';
import { LoaderCalls } from './services/loader_calls';
import { OrderService } from './services/order_service';
import { SessionService } from './services/session_service';
import { UserService } from './services/user_service';
import { ViewCounter } from './services/view_counter';
import { registerWarmers } from './warmers';

/** Options of `openShop`. */
export interface ShopOptions {
  /** Interval of the scheduled re-warm. Default `'5m'`; the scripted scenario compresses it. */
  rewarmEvery?: Duration;
  /** Longest a write-behind write waits for its batch. Default `'100ms'`. */
  flushDelay?: Duration;
}

/** The running shop: its cache, database, services and write-behind flusher. */
export interface Shop {
  readonly cache: Cache;
  readonly ds: DataSource;
  readonly description: string;
  /** On shared servers: what this run created there, removed by `close()`. */
  readonly isolation: string | undefined;
  readonly calls: LoaderCalls;
  readonly catalog: CatalogService;
  readonly users: UserService;
  readonly sessions: SessionService;
  readonly inventory: InventoryService;
  readonly views: ViewCounter;
  readonly orders: OrderService;
  readonly writeBehind: WriteBehind;
  /** Flushes pending writes, stops every background task and cleans the shared servers up. */
  close(): Promise<void>;
}

/** Opens the backends, seeds the database and wires the services (nothing is warmed yet). */
export async function openShop(options: ShopOptions = {}): Promise<Shop> {
  const backends = await openBackends();
  const { cache } = backends;
  const ck = cachekitTypeOrm(cache, { onError: (e) => console.error('cache error:', e) });
  const ds = await backends.openDataSource(ck);
  await seed(ds);
  const writeBehind = startWriteBehind(ds, cache, {
    maxDelay: options.flushDelay ?? '100ms',
    ...(backends.writeQueue ? { queue: backends.writeQueue } : {}),
  });
  const calls = new LoaderCalls();
  const catalog = new CatalogService(cache, ds, ck, calls);
  const inventory = new InventoryService(ds, ck);
  const views = new ViewCounter(ds, ck);
  registerWarmers(catalog, views, options.rewarmEvery ?? '5m');
  return {
    cache,
    ds,
    description: backends.description,
    isolation: backends.isolation,
    calls,
    catalog,
    users: new UserService(cache, ds, calls),
    sessions: new SessionService(cache),
    inventory,
    views,
    orders: new OrderService(ds, catalog, inventory),
    writeBehind,
    async close() {
      // Write-behind first: its close() flushes to the database, which must still be open.
      await writeBehind.close();
      await backends.close();
    },
  };
}
