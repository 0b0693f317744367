/**
 * Scenario "invalidation propagation": how long after instance A invalidates a tag does
 * instance B's L1 stop serving the old entry? Two caches with their own L1 and connections on a
 * private redis-server; B polls its (synchronous) L1 hit path until the entry is gone.
 *
 * Run alone with `npx ts-node --transpile-only bench/bus_latency.ts`.
 */
import { Cache } from '../src';
import { RedisStore } from '../src/redis';
import { fmtMs, sized, startRedis } from './support';

const TRIALS = sized(300, 10);

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

export async function runBusLatency(): Promise<{ p50: number; p99: number }> {
  console.log(`\n=== Invalidation propagation to another instance's L1 (${TRIALS} trials) ===`);
  const redis = await startRedis();
  const a = new Cache({ prefix: 'bus', l2: new RedisStore({ url: redis.url }) });
  const b = new Cache({ prefix: 'bus', l2: new RedisStore({ url: redis.url }) });
  try {
    while (!a.stats().bus.live || !b.stats().bus.live) await new Promise((r) => setTimeout(r, 5));
    const lags: number[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const key = `k${i}`;
      await a.getOrLoad(key, () => 'old', { tags: [`t${i}`] });
      await b.getOrLoad(key, () => 'old', { tags: [`t${i}`] });
      const t0 = performance.now();
      await a.invalidateTags([`t${i}`]);
      // B's L1 answers synchronously; setImmediate lets the subscriber socket deliver.
      while ((await b.getEntry(key))?.layer === 'l1') await new Promise((r) => setImmediate(r));
      lags.push(performance.now() - t0);
    }
    const p50 = percentile(lags, 0.5);
    const p99 = percentile(lags, 0.99);
    console.log(
      `from A's invalidateTags() call to B's L1 no longer serving the entry: p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)} ` +
        `(includes A's INCR round trip; B's bus stats: lag p50 ${fmtMs(b.stats().bus.lagMs.p50)}, p99 ${fmtMs(b.stats().bus.lagMs.p99)})`,
    );
    return { p50, p99 };
  } finally {
    await a.close();
    await b.close();
    await redis.stop();
  }
}

if (require.main === module) {
  runBusLatency().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
