import type { Cache } from '../cache';
import { CacheConfigError, type CacheError } from '../errors';
import type { ProgressBar } from './progress_bar';
import { CacheWarmError } from './warm_error';
import type { WarmerResult, WarmReason, WarmReport } from './warm_report';
import type { PreparedWarmer, WarmContext, WarmJob } from './warmer';
import type { WarmingEvents } from './warming_events';

/** What one run needs from its `Warming`. */
export interface RunSettings {
  readonly run: number;
  readonly reason: WarmReason;
  readonly concurrency: number;
  readonly signal: AbortSignal;
  readonly cache: Cache;
  readonly events: WarmingEvents;
  readonly bar: ProgressBar | undefined;
  readonly report: (error: CacheError, operation: string) => void;
  /** Called with each finished warmer, for the running totals in stats. */
  readonly onWarmer: (r: WarmerResult) => void;
}

/** The live state of one warmer in a run. */
class Tally {
  total = 0;
  done = 0;
  failed = 0;
  skipped = 0;
  error: Error | undefined;
  remaining = 0;
  finished = false;
  readonly started = Date.now();
  constructor(readonly job: WarmJob) {}

  result(): WarmerResult {
    const r: WarmerResult = {
      name: this.job.name,
      ok: this.failed === 0 && this.error === undefined,
      total: this.total,
      done: this.done,
      failed: this.failed,
      skipped: this.skipped,
      ms: Date.now() - this.started,
    };
    return this.error === undefined ? r : { ...r, error: this.error };
  }
}

type Unit = { tally: Tally; ctx: WarmContext; selfReporting: boolean; call: PreparedWarmer['units'][number] };

/**
 * Runs warmers: each one lists its calls, then `concurrency` workers make them in order,
 * all warmers sharing the workers. A call that throws is counted against its warmer and
 * the rest go on; a run never rejects. Closing the cache stops the workers between calls.
 */
export async function executeRun(jobs: readonly WarmJob[], s: RunSettings): Promise<WarmReport> {
  const started = Date.now();
  s.events.emit('start', { run: s.run, reason: s.reason, warmers: jobs.map((j) => j.name) });
  const tallies = jobs.map((j) => new Tally(j));

  const progress = (t: Tally) => {
    if (s.events.has('progress'))
      s.events.emit('progress', {
        run: s.run,
        warmer: t.job.name,
        done: t.done,
        total: t.total,
        failed: t.failed,
      });
    s.bar?.update(t.job.name, t.done, t.total);
  };
  const finish = (t: Tally) => {
    if (t.finished) return;
    t.finished = true;
    const r = t.result();
    s.onWarmer(r);
    s.events.emit('warmer', { ...r, run: s.run });
    if (!r.ok) s.report(new CacheWarmError(r.name, r.failed, r.total, r.error), `warm:${r.name}`);
    s.bar?.finish(
      r.ok
        ? `warmed ${r.done}/${r.total} ${r.name} in ${r.ms} ms${r.skipped > 0 ? ` (${r.skipped} skipped)` : ''}`
        : `warming ${r.name} failed: ${r.error?.message ?? `${r.failed} of ${r.total} calls threw`}`,
    );
  };

  const prepared = await Promise.all(
    tallies.map((t) =>
      t.job.prepare().then(
        (p) => p,
        (err: unknown) => {
          t.error = asError(err);
          return undefined;
        },
      ),
    ),
  );
  const queue: Unit[] = [];
  for (let i = 0; i < tallies.length; i++) {
    const t = tallies[i];
    const p = prepared[i];
    if (p === undefined || p.units.length === 0) {
      if (p !== undefined) t.skipped = p.skipped;
      finish(t);
      continue;
    }
    t.total = p.total;
    t.skipped = p.skipped;
    t.remaining = p.units.length;
    const ctx = contextFor(t, s, progress);
    for (const call of p.units) queue.push({ tally: t, ctx, selfReporting: p.selfReporting, call });
    progress(t);
  }

  let next = 0;
  const worker = async () => {
    while (next < queue.length && !s.signal.aborted) {
      const u = queue[next++];
      const t = u.tally;
      try {
        await u.call(u.ctx);
        if (u.selfReporting && t.done === 0) t.done = t.total;
      } catch (err) {
        t.failed++;
        t.error ??= asError(err);
      }
      if (!u.selfReporting) t.done++;
      progress(t);
      if (--t.remaining === 0) finish(t);
    }
  };
  await Promise.all(Array.from({ length: Math.min(s.concurrency, queue.length) }, worker));

  const cancelled = next < queue.length;
  for (const t of tallies) finish(t);
  const warmers = tallies.map((t) => t.result());
  const report: WarmReport = {
    run: s.run,
    reason: s.reason,
    ok: !cancelled && warmers.every((w) => w.ok),
    cancelled,
    ms: Date.now() - started,
    warmers,
  };
  s.events.emit('done', report);
  return report;
}

function contextFor(t: Tally, s: RunSettings, progress: (t: Tally) => void): WarmContext {
  return {
    cache: s.cache,
    signal: s.signal,
    reason: s.reason,
    total(n: number) {
      if (!Number.isInteger(n) || n < 0)
        throw new CacheConfigError(`${t.job.name}: ctx.total`, n, 'expected a non-negative integer');
      t.total = n;
      progress(t);
    },
    advance(n = 1) {
      if (!Number.isInteger(n) || n < 0)
        throw new CacheConfigError(`${t.job.name}: ctx.advance`, n, 'expected a non-negative integer');
      t.done += n;
      if (t.done > t.total) t.total = t.done;
      progress(t);
    },
  };
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
