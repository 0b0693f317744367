/*
 * cloneValue against the usual deep copies, on the kind of value an L1 hit returns: a ~500-byte
 * product entity, once as a plain object and once as a class instance (what TypeORM hands out).
 *
 *   npx ts-node --transpile-only bench/clone.ts
 */
import { isDeepStrictEqual } from 'node:util';
import rfdc from 'rfdc';
import { cloneValue } from '../src/engine/clone';
import { copierFor } from '../src/engine/shape_copier';

class Dimensions {
  width = 0;
  height = 0;
  depth = 0;
  unit = 'cm';
}

class Product {
  id = 0;
  name = '';
  price = 0;
  sku = '';
  stock = 0;
  active = false;
  description = '';
  createdAt = new Date(0);
  tags: string[] = [];
  dimensions = new Dimensions();
}

const fields = {
  id: 48213,
  name: 'Ergonomic Oak Desk Organiser',
  price: 49.95,
  sku: 'HOME-ORG-0048213',
  stock: 120,
  active: true,
  description:
    'A three-tier desk organiser in solid oak with a felt-lined drawer, a phone stand and two pen ' +
    'trays. Hand-finished with natural oil; each piece varies slightly in grain and colour. Ships ' +
    'flat-packed with brass screws.',
  createdAt: new Date('2025-03-14T09:26:53.589Z'),
  tags: ['home', 'office', 'oak', 'organiser', 'handmade'],
};

const plain = { ...fields, dimensions: { width: 32.5, height: 18, depth: 21, unit: 'cm' } };
const entity = Object.assign(new Product(), fields, {
  dimensions: Object.assign(new Dimensions(), plain.dimensions),
});

const rfdcClone = rfdc();
const candidates: [string, (v: unknown) => unknown][] = [
  ['cloneValue', cloneValue],
  ['rfdc()', rfdcClone],
  ['structuredClone', (v) => structuredClone(v)],
  ['JSON round trip', (v) => JSON.parse(JSON.stringify(v))],
];

/** Operations per second, best of `rounds` timed rounds after a warm-up. */
function measure(fn: (v: unknown) => unknown, value: unknown, rounds = 5, roundMs = 400): number {
  let sink: unknown;
  const run = (ms: number): number => {
    let n = 0;
    const end = process.hrtime.bigint() + BigInt(ms * 1e6);
    const start = process.hrtime.bigint();
    // Batches of 100 keep the clock reads out of the measurement.
    while (process.hrtime.bigint() < end) {
      for (let i = 0; i < 100; i++) sink = fn(value);
      n += 100;
    }
    return n / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  run(roundMs);
  let best = 0;
  for (let r = 0; r < rounds; r++) best = Math.max(best, run(roundMs));
  if (sink === value) throw new Error('a clone returned its input');
  return best;
}

function report(label: string, value: object): void {
  console.log(`\n${label} (${JSON.stringify(value).length} bytes as JSON)`);
  const ours = measure(cloneValue, value);
  console.log(
    `  ${'copier'.padEnd(16)} ${'ops/sec'.padStart(12)}  ${'cloneValue is'.padEnd(14)}  exact copy`,
  );
  // What an L1 hit really runs: a copier compiled once for the stored value's shape.
  const shaped: [string, (v: unknown) => unknown] = ['shape copier', copierFor(value)];
  for (const [name, fn] of [shaped, ...candidates]) {
    const ops = name === 'cloneValue' ? ours : measure(fn, value);
    // Exact: deep-equal with the same prototypes and types (a Date still a Date, not a string).
    const exact = isDeepStrictEqual(fn(value), value) ? 'yes' : 'no';
    const ratio = name === 'cloneValue' ? '—' : `${(ours / ops).toFixed(2)}x faster`;
    console.log(
      `  ${name.padEnd(16)} ${Math.round(ops).toLocaleString('en-US').padStart(12)}  ${ratio.padEnd(14)}  ${exact}`,
    );
  }
}

// A copier that is fast because it is wrong would be no use: check before timing.
if (!isDeepStrictEqual(cloneValue(plain), plain) || !isDeepStrictEqual(cloneValue(entity), entity)) {
  throw new Error('cloneValue does not copy the benchmark values faithfully');
}
console.log(`Node ${process.version}`);
report('plain object entity', plain);
report('class-instance entity', entity);
