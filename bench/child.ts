/**
 * One scenario in a process of its own (`npm run bench` starts one per scenario, so that no
 * scenario runs on a heap or event loop another has churned). Prints the scenario's tables and
 * writes its result as JSON to the file named by the second argument.
 */
import { writeFileSync } from 'node:fs';
import { sink } from './support';

/** Every scenario, by name, in the order `npm run bench` runs them. */
export const SCENARIOS = {
  l1_hit: () => import('./l1_hit').then((m) => m.runL1Hit()),
  decorator_hit: () => import('./decorator_hit').then((m) => m.runDecoratorHit()),
  redis_hit: () => import('./redis_hit').then((m) => m.runRedisHit()),
  find_one: () => import('./find_one').then((m) => m.runFindOne()),
  write_behind: () => import('./write_behind').then((m) => m.runWriteBehind()),
  stampede: () => import('./stampede').then((m) => m.runStampede()),
  bus_latency: () => import('./bus_latency').then((m) => m.runBusLatency()),
} as const;

/** A scenario's name. */
export type ScenarioName = keyof typeof SCENARIOS;

async function main(): Promise<void> {
  const [name, out] = process.argv.slice(2);
  if (!(name in SCENARIOS) || !out) {
    throw new Error(`usage: child.ts <${Object.keys(SCENARIOS).join('|')}> <out.json>`);
  }
  const started = Date.now();
  const result = await SCENARIOS[name as ScenarioName]();
  // The sink keeps every measured call's result observable, so none could be elided by the JIT.
  writeFileSync(out, JSON.stringify({ scenario: name, ms: Date.now() - started, sink, result }));
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
