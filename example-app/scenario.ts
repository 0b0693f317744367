import type { Cache, WarmReport } from '../src';
import { InventoryCount, Product } from './entities';
import { watchHitRatio } from './metrics';
import type { Shop } from './app';
import {
  heading,
  HitRatioTimeline,
  money,
  pct,
  savingsTable,
  timelineTable,
  writeBehindLines,
} from './report';
import { SEED } from './seed';
import { Traffic } from './traffic';
import { WARM_TOP } from './warmers';

/** Requests per browsing phase. */
const PHASE_REQUESTS = 400;
const SEARCHES = ['lamp', 'desk', 'chair', 'shelve', 'lamp 1', 'desk 1'];

/**
 * The scripted tour: one step per feature, each printing what the cache did with real numbers.
 * `log` receives the report line by line.
 */
export async function runScenario(shop: Shop, log: (line: string) => void): Promise<void> {
  const { cache, catalog, users, sessions, calls } = shop;
  const timeline = new HitRatioTimeline(() => cache.stats());
  // The alert's window is one phase of the scenario: its clock advances a second per phase, and it
  // is checked at each phase's end (stop() ends its own timer, check() still works).
  let phaseClock = 0;
  const alert = watchHitRatio(cache, {
    log: (l) => log(`  ${l}`),
    window: '1s',
    minSamples: 20,
    clock: () => phaseClock,
  });
  alert.stop();
  const endPhase = (name: string) => {
    const sample = timeline.sample(name);
    phaseClock += 1000;
    alert.check();
    return sample;
  };
  const invalidated: string[][] = [];
  cache.on('invalidate', (e) => invalidated.push([...e.tags]));
  const traffic = new Traffic(7);
  const ids = await catalog.productIds();
  const categoryIds = [...new Set((await shop.ds.getRepository(Product).find()).map((p) => p.categoryId))];
  const userIds = Array.from({ length: SEED.users }, (_, i) => i + 1);
  const call = <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    calls.called(name);
    return fn();
  };

  log(`cachekit example shop: TypeORM on ${shop.description}`);
  if (shop.isolation) log(`isolated on the shared servers: ${shop.isolation} (removed at exit)`);
  log(`${ids.length} products in ${categoryIds.length} categories, ${userIds.length} customers`);
  log(
    'TTLs from cache_config.yaml: user profile 1h, product catalog 24h, inventory 1m, search 10m, session 30m sliding',
  );

  // --- Startup warming -------------------------------------------------------------------------
  log(heading('startup warming'));
  const report: WarmReport = await cache.warm({ progress: process.stdout });
  const warmed = report.warmers.find((w) => w.name === 'most viewed products');
  log(
    `  warmed ${warmed?.done ?? 0}/${warmed?.total ?? 0} most viewed products in ${report.ms} ms (ok: ${report.ok})`,
  );
  const loadsAfterWarm = calls.loadsOf('product');
  for (let i = 1; i <= WARM_TOP; i++) await call('product', () => catalog.product(ids[i - 1]));
  log(
    `  the top ${WARM_TOP} product pages right after: ${calls.loadsOf('product') - loadsAfterWarm} loads (served warm)`,
  );
  endPhase('warm start');

  // --- Browsing: cached service methods ------------------------------------------------------------
  log(heading('browsing (skewed traffic)'));
  const session = await sessions.start(1);
  let sessionReads = 0;
  for (let phase = 1; phase <= 3; phase++) {
    for (let i = 0; i < PHASE_REQUESTS; i++) {
      const r = traffic.next();
      if (r < 0.55) await call('product', () => catalog.product(traffic.skewed(ids)));
      else if (r < 0.7)
        await call('productsInCategory', () => catalog.productsInCategory(traffic.skewed(categoryIds)));
      else if (r < 0.85) await call('search', () => catalog.search(traffic.skewed(SEARCHES)));
      else if (r < 0.95) await call('profile', () => users.profile(traffic.skewed(userIds)));
      else if (await sessions.get(session.token)) sessionReads++;
    }
    const s = endPhase(`browse ${phase}`);
    log(`  phase ${phase}: ${PHASE_REQUESTS} requests, hit ratio ${pct(s.hits / (s.hits + s.misses))}`);
  }

  // --- Sliding session ----------------------------------------------------------------------------
  log(heading('sliding session (30m)'));
  const cart = await sessions.addToCart(session.token, ids[0]);
  const again = await sessions.get(session.token);
  log(
    `  session of customer ${again?.userId}: found by all ${sessionReads} reads (0 loads: it lives only in the cache), cart ${JSON.stringify(cart?.cart)}`,
  );
  log('  every read reset its 30 minutes (sliding_ttl): an active visitor is never signed out');

  // --- Price change: automatic invalidation + write-through ------------------------------------------
  log(heading('price change: invalidation after COMMIT, write-through'));
  const target = ids[0];
  const before = (await catalog.product(target))!;
  const listBefore = await catalog.productsInCategory(before.categoryId);
  // This product's loads only: the scheduled re-warm (every 300 ms here) reloads the other
  // pages the commit's table tag dropped, and would add them to the count.
  const productLoads0 = calls.loadsOf(`product ${target}`);
  const newPrice = before.price + 500;
  await catalog.changePrice(target, newPrice);
  const after = (await call('product', () => catalog.product(target)))!;
  const listAfter = await call('productsInCategory', () => catalog.productsInCategory(before.categoryId));
  log(`  ${before.name}: ${money(before.price)} -> ${money(newPrice)} (saved through the cached repository)`);
  log(
    `  product page now shows ${money(after.price)} (reloaded: ${calls.loadsOf(`product ${target}`) - productLoads0} load)`,
  );
  log(
    `  category listing now shows ${money(listAfter.find((p) => p.id === target)!.price)} (was ${money(listBefore.find((p) => p.id === target)!.price)})`,
  );
  // Loads of this row's entry only (the re-warm may load other pages meanwhile).
  let byIdLoads = 0;
  const onLoad = (e: { key: string }) => {
    if (e.key.endsWith(`:entity:Product:${target}`)) byIdLoads++;
  };
  cache.on('load', onLoad);
  const byId = await catalog.productsById.findOneById(target);
  cache.off('load', onLoad);
  log(`  write-through: findOneById(${target}) = ${money(byId!.price)} with ${byIdLoads} database loads`);
  log(`  invalidation tags of that commit: ${invalidated.at(-1)?.join(', ') ?? 'none'}`);
  endPhase('price change');

  // --- Tag invalidation by category ------------------------------------------------------------------
  log(heading('tag invalidation by category'));
  const [catA, catB] = [categoryIds[1], categoryIds[2]];
  await catalog.productsInCategory(catA);
  await catalog.productsInCategory(catB);
  const listLoads = calls.loadsOf('productsInCategory');
  await catalog.invalidateCategory(catA);
  await call('productsInCategory', () => catalog.productsInCategory(catA));
  const reloadedA = calls.loadsOf('productsInCategory') - listLoads;
  await call('productsInCategory', () => catalog.productsInCategory(catB));
  const reloadedB = calls.loadsOf('productsInCategory') - listLoads - reloadedA;
  log(
    `  invalidateTags([category:${catA}]): its listing reloaded ${reloadedA}x, category ${catB}'s ${reloadedB}x (untouched)`,
  );
  endPhase('category bump');

  // --- Domain events (invalidate_on) ----------------------------------------------------------------
  log(heading('domain event (invalidate_on)'));
  await call('search', () => catalog.search('lamp'));
  const searchLoads = calls.loadsOf('search');
  await call('search', () => catalog.search('lamp'));
  const whileCached = calls.loadsOf('search') - searchLoads;
  await cache.emit('catalog.refresh');
  await call('search', () => catalog.search('lamp'));
  const afterEvent = calls.loadsOf('search') - searchLoads - whileCached;
  log(
    `  search "lamp": ${whileCached} loads while cached; after cache.emit('catalog.refresh'), which the ` +
      `search_results policy listens to: reloaded ${afterEvent}x`,
  );
  endPhase('domain event');

  // --- Stampede protection ---------------------------------------------------------------------------
  log(heading('stampede protection on a hot product'));
  // A product outside the warmed top ten: the scheduled re-warm (every 300 ms here) must not add
  // its own loads to the count, which is of this product's loads only.
  const topViewed = new Set(await shop.views.mostViewed(WARM_TOP));
  const hot = ids.find((id) => !topViewed.has(id))!;
  const hotPage = (await catalog.product(hot))!;
  await catalog.invalidateCategory(hotPage.categoryId);
  const stampedeLoads = calls.loadsOf(`product ${hot}`);
  const callers = 200;
  await Promise.all(Array.from({ length: callers }, () => call('product', () => catalog.product(hot))));
  const stampede = calls.loadsOf(`product ${hot}`) - stampedeLoads;
  log(
    `  ${callers} concurrent requests for ${hotPage.name} right after its entry was invalidated: ${stampede} loader call`,
  );
  endPhase('stampede');

  // --- Negative caching -------------------------------------------------------------------------------
  log(heading('negative caching'));
  const missing = 999_999;
  const negLoads = calls.loadsOf('product');
  let found: unknown = 'unset';
  for (let i = 0; i < 5; i++) found = await call('product', () => catalog.product(missing));
  log(
    `  5 requests for missing product ${missing}: result ${String(found)}, ${calls.loadsOf('product') - negLoads} loader call (null cached 30s)`,
  );
  endPhase('missing product');

  // --- Orders, inventory and page views: write-behind --------------------------------------------------
  log(heading('write-behind: inventory counts and page views'));
  const wb = shop.writeBehind;
  const profileBefore = (await users.profile(2))!;
  let placed = 0;
  for (let i = 0; i < 30; i++) {
    if (
      await shop.orders.place(traffic.pick(userIds), traffic.skewed(ids), 1 + Math.floor(traffic.next() * 3))
    )
      placed++;
  }
  await shop.orders.place(2, ids[0], 1);
  placed++;
  const profileAfter = (await call('profile', () => users.profile(2)))!;
  log(`  ${placed} orders placed, ${shop.inventory.reserved} units reserved`);
  log(
    `  customer 2's cached profile: ${profileBefore.orders} orders before, ${profileAfter.orders} after (invalidated by the insert)`,
  );
  // Products near the top of the ranking get a burst of views: after the flush they are the most viewed.
  const risers = ids.slice(-3);
  for (const id of risers) for (let v = 0; v < 45; v++) await shop.views.record(id);
  const cachedStock = await shop.inventory.stock(ids[0]);
  const dbStock = (await shop.ds.getRepository(InventoryCount).findOneBy({ productId: ids[0] }))?.stock;
  const pending = await wb.pending();
  log(
    `  before the flush: stock of ${before.name} is ${cachedStock} in the cache, ${dbStock} in the database; ${pending} writes pending`,
  );
  await wb.flush();
  const dbStockAfter = (await shop.ds.getRepository(InventoryCount).findOneBy({ productId: ids[0] }))?.stock;
  log(`  after the flush: ${dbStockAfter} in the database`);
  log('  write-behind flush:');
  for (const l of writeBehindLines(wb.stats())) log(l);
  endPhase('orders + views');

  // --- Scheduled re-warm ---------------------------------------------------------------------------------
  log(heading('scheduled re-warm'));
  const top = await shop.views.mostViewed(WARM_TOP);
  const risen = risers.filter((id) => top.includes(id));
  await nextScheduledRun(cache);
  const rewarmLoads = calls.loadsOf('product');
  for (const id of risen) await call('product', () => catalog.product(id));
  const schedule = cache.stats().warming.schedules.find((s) => s.name === 'most viewed products');
  log(`  products ${risen.join(', ')} entered the top ${WARM_TOP} after the flush`);
  log(
    `  the re-warm (run ${schedule?.runs ?? 0} of its schedule) loaded them: requesting them now costs ${calls.loadsOf('product') - rewarmLoads} loads`,
  );
  endPhase('after re-warm');

  // --- Summary ---------------------------------------------------------------------------------------
  log(heading('hit ratio over time'));
  log(timelineTable(timeline.samples));
  log(heading('loader calls saved'));
  log(savingsTable(calls));
  log(heading('invalidations'));
  const tags = invalidated.flat();
  log(
    `  ${invalidated.length} invalidation events, ${tags.length} tags bumped (${new Set(tags).size} distinct), e.g. ${[...new Set(tags)].slice(0, 6).join(', ')}`,
  );
  const s = cache.stats();
  log(heading('totals'));
  log(
    `  ${s.hits} hits, ${s.misses} misses, hit ratio ${pct(s.hitRatio)}; ${s.loads} loads; ${s.invalidations} tag versions bumped`,
  );
}

/** Resolves when a scheduled warm run that starts after this call has finished. */
function nextScheduledRun(cache: Cache): Promise<WarmReport> {
  return new Promise((resolve) => {
    let run: number | undefined;
    const onStart = (e: { run: number; reason: string }) => {
      if (run === undefined && e.reason === 'schedule') run = e.run;
    };
    const onDone = (r: WarmReport) => {
      if (r.run !== run) return;
      cache.warming.off('start', onStart);
      cache.warming.off('done', onDone);
      resolve(r);
    };
    cache.warming.on('start', onStart);
    cache.warming.on('done', onDone);
  });
}
