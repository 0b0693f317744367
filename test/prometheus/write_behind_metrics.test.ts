import 'reflect-metadata';
import { Check, Column, Entity, PrimaryColumn } from 'typeorm';
import { CachePolicy, type WriteBehind } from '../../src';
import { cacheMetrics, type CacheMetrics } from '../../src/prometheus';
import { type CachedRepository, startWriteBehind } from '../../src/typeorm';
import { sleep } from '../support/services';
import { dropTables, openWbDb, type WbDb } from '../write_behind/fixture';
import { scrape, serveMetrics } from './scrape';

const ITEM = `prom_wb_item_${process.pid}`;

@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Check(`"price" >= 0`)
@Entity({ name: ITEM })
class PromWbItem {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  name!: string;
  @Column('int')
  price!: number;
}

describe('cacheMetrics with a write-behind (PostgreSQL)', () => {
  let db: WbDb;
  let items: CachedRepository<PromWbItem>;
  let wb: WriteBehind;
  let metrics: CacheMetrics;
  let server: Awaited<ReturnType<typeof serveMetrics>>;

  beforeAll(async () => {
    db = await openWbDb([PromWbItem], { memoryOnly: true });
    items = db.ck.repository(db.ds.getRepository(PromWbItem));
    // A batch deadline far away: only flush() persists.
    wb = startWriteBehind(db.ds, db.cache, { maxDelay: '1h' });
    metrics = cacheMetrics(db.cache, { writeBehind: wb });
    server = await serveMetrics(metrics);
  });
  afterAll(async () => {
    await server.close();
    metrics.close();
    await wb.close();
    await dropTables(db.ds, [ITEM]);
    await db.close();
  });

  test('queue depth while writes wait, then flushed rows and dead letters', async () => {
    await items.save({ id: 1, name: 'lamp', price: 10 });
    await items.save({ id: 2, name: 'desk', price: 20 });
    await items.save({ id: 3, name: 'bad', price: -1 }); // violates CHECK (price >= 0)
    // The flusher reads the queue depth (and the age of its oldest write) a few times a second.
    const deadline = Date.now() + 5000;
    const read = () => wb.stats().pending === 3 && wb.stats().oldestPendingMs > 0;
    while (!read() && Date.now() < deadline) await sleep(20);

    const waiting = await scrape(server.url);
    expect(waiting.types.get('cachekit_write_behind_pending')).toBe('gauge');
    expect(waiting.value('cachekit_write_behind_pending')).toBe(3);
    expect(waiting.value('cachekit_write_behind_oldest_pending_seconds')).toBeGreaterThan(0);
    expect(waiting.value('cachekit_write_behind_dead_letters_total')).toBe(0);
    expect(waiting.value('cachekit_write_behind_flushed_total')).toBe(0);

    await wb.flush();
    const done = await scrape(server.url);
    expect(done.value('cachekit_write_behind_pending')).toBe(0);
    expect(done.value('cachekit_write_behind_oldest_pending_seconds')).toBe(0);
    expect(done.types.get('cachekit_write_behind_dead_letters_total')).toBe('counter');
    expect(done.value('cachekit_write_behind_dead_letters_total')).toBe(1);
    expect(done.value('cachekit_write_behind_flushed_total')).toBe(2);
    expect(done.value('cachekit_write_behind_retries_total')).toBe(0);
    expect(await wb.deadLetters()).toHaveLength(1);
  });
});
