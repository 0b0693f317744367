/**
 * Scenario "replay recording on the hit path": what `@Cacheable({ replay: true })` adds to a
 * decorated L1 hit, and how many Redis commands recording sends. Two identical services over
 * memory-L1 caches, one with `replay: true` and a RedisHeatStore flushing every second, the
 * other without; calls rotate over 1,000 ids that are all cached, so every timed call is a hit.
 *
 * Run with `npx ts-node --transpile-only bench/replay_record.ts` (needs Redis at REDIS_URL,
 * default redis://127.0.0.1:6379; its keys live under a unique prefix and are deleted at the end).
 */
import Redis from 'ioredis';
import { Cache, Cacheable } from '../src';
import { RedisHeatStore } from '../src/redis';
import { countClientCommands, fmtOps, fmtRatio, measureInterleaved, printTable, sink } from './support';

const IDS = 1000;

async function main(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const client = new Redis(url);
  const prefix = `bench-replay-${process.pid}-${Date.now().toString(36)}`;
  const commands = countClientCommands(client);

  const plainCache = new Cache({ prefix: `${prefix}-plain` });
  const replayCache = new Cache({
    prefix,
    warming: { heatStore: new RedisHeatStore({ client }), flushInterval: '1s' },
  });

  class Plain {
    constructor(readonly cache: Cache) {}
    @Cacheable()
    async find(id: number) {
      return { id, name: `product ${id}`, price: id * 3 };
    }
  }
  class Recorded {
    constructor(readonly cache: Cache) {}
    @Cacheable({ replay: true })
    async find(id: number) {
      return { id, name: `product ${id}`, price: id * 3 };
    }
  }
  const plain = new Plain(plainCache);
  const recorded = new Recorded(replayCache);
  for (let id = 0; id < IDS; id++) {
    await plain.find(id);
    await recorded.find(id);
  }
  let i = 0;
  let j = 0;
  const started = Date.now();
  const before = replayCache.stats().warming.replay.recorded;
  commands.reset();
  const [off, on] = await measureInterleaved(
    [
      { fn: () => plain.find(i++ % IDS), isAsync: true },
      { fn: () => recorded.find(j++ % IDS), isAsync: true },
    ],
    { rounds: 7 },
  );
  const elapsedS = (Date.now() - started) / 1000;
  const calls = replayCache.stats().warming.replay.recorded - before;
  const duringRun = commands.count;
  await plainCache.close();
  await replayCache.close(); // flushes the counts still in memory
  const total = commands.count;
  commands.restore();

  printTable(
    ['decorated L1 hit', ' ops/s', ' range'],
    [
      ['@Cacheable()', fmtOps(off.opsPerSec), `${fmtOps(off.minOpsPerSec)}–${fmtOps(off.maxOpsPerSec)}`],
      [
        '@Cacheable({ replay: true })',
        fmtOps(on.opsPerSec),
        `${fmtOps(on.minOpsPerSec)}–${fmtOps(on.maxOpsPerSec)}`,
      ],
    ],
  );
  console.log(`replay on ÷ off: ${fmtRatio(on.opsPerSec / off.opsPerSec)}`);
  console.log(
    `${calls} recorded calls over ${elapsedS.toFixed(1)} s sent ${duringRun} Redis commands while running ` +
      `and ${total - duringRun} in the flushes after them (each one MULTI: a ZINCRBY per distinct call, ` +
      `ZREMRANGEBYRANK, PEXPIRE): ${(total / Math.max(1, calls)).toExponential(2)} commands per call`,
  );
  console.log(`heat set: ${await client.zcard(`${prefix}:__:heat`)} members`);

  await client.del(`${prefix}:__:heat`);
  await client.quit();
  if (sink === 42) console.log('');
}

void main();
