import type { CacheStats, WriteBehindStats } from '../src';
import type { LoaderCalls } from './services/loader_calls';

/** Hits and misses of the cache during one phase of the scenario. */
export interface PhaseSample {
  readonly phase: string;
  readonly hits: number;
  readonly misses: number;
  /** Hit ratio since the start of the run. */
  readonly cumulative: number;
}

/**
 * Samples the cache's counters between phases: `sample('browse 1')` records what happened since
 * the previous sample, so the report can show the hit ratio over time, not only its final value.
 */
export class HitRatioTimeline {
  private last = { hits: 0, misses: 0 };
  readonly samples: PhaseSample[] = [];

  constructor(private readonly stats: () => CacheStats) {}

  /** Closes the current phase under `phase`. */
  sample(phase: string): PhaseSample {
    const s = this.stats();
    const sample = {
      phase,
      hits: s.hits - this.last.hits,
      misses: s.misses - this.last.misses,
      cumulative: s.hitRatio,
    };
    this.last = { hits: s.hits, misses: s.misses };
    this.samples.push(sample);
    return sample;
  }
}

/** `0.953` → `95.3%`. */
export function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

/** A cents amount as `12.50`. */
export function money(cents: number): string {
  return (cents / 100).toFixed(2);
}

/** A section title. */
export function heading(title: string): string {
  return `\n== ${title} ${'='.repeat(Math.max(0, 72 - title.length))}`;
}

function table(rows: (string | number)[][], header: string[]): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...all.slice(1).map(fmt)]
    .map((l) => `  ${l}`)
    .join('\n');
}

/** The hit ratio per phase, with a bar, and cumulative. */
export function timelineTable(samples: readonly PhaseSample[]): string {
  return table(
    samples.map((s) => {
      const ratio = s.hits + s.misses === 0 ? 0 : s.hits / (s.hits + s.misses);
      const bar = '#'.repeat(Math.round(ratio * 20)).padEnd(20, '.');
      return [s.phase, s.hits, s.misses, `${pct(ratio)} ${bar}`, pct(s.cumulative)];
    }),
    ['phase', 'hits', 'misses', 'hit ratio in phase', 'cumulative'],
  );
}

/** Calls, loader runs and saved loads per cached method. */
export function savingsTable(calls: LoaderCalls): string {
  const rows = calls.table();
  const total = rows.reduce((a, r) => ({ calls: a.calls + r.calls, loads: a.loads + r.loads }), {
    calls: 0,
    loads: 0,
  });
  return table(
    [
      ...rows.map((r) => [r.name, r.calls, r.loads, r.saved]),
      ['total', total.calls, total.loads, total.calls - total.loads],
    ],
    ['method', 'calls', 'loader runs', 'loader calls saved'],
  );
}

/** What the write-behind flusher did. */
export function writeBehindLines(s: WriteBehindStats): string[] {
  return [
    `  writes acknowledged ${s.enqueued}, rows flushed ${s.flushed}, coalesced ${s.coalesced}, batches ${s.batches} (largest ${s.batchSize.max} rows)`,
    `  flush latency p50 ${s.flushLatency.p50.toFixed(1)} ms, append-to-commit lag p50 ${s.lag.p50.toFixed(0)} ms, retries ${s.retries}, dead letters ${s.deadLetters}`,
  ];
}
