import type { Cache } from '../cache';
import type { PolicyOptions } from '../engine/options';
import { CacheConfigError, type CacheError } from '../errors';
import { type CallSite, HeatRecorder } from './heat_recorder';
import { ProgressBar } from './progress_bar';
import { REPLAY_WARMER, ReplayTargets, replayJob } from './replay';
import { executeRun } from './warm_run';
import type { WarmerResult, WarmReason, WarmReport } from './warm_report';
import { type ScheduleStats, validateCron, WarmSchedule } from './warm_schedule';
import { toWarmJob, type Warmer, type WarmJob } from './warmer';
import { type WarmingEventMap, type WarmingEventName, WarmingEvents } from './warming_events';
import {
  resolveProgress,
  resolveWarming,
  type ResolvedWarming,
  type WarmingOptions,
  type WarmOptions,
} from './warming_options';
import { positiveInt } from '../engine/options';

/** Warming counters and schedules, as `cache.stats().warming` shows them. */
export interface WarmingStats {
  /** Warmers registered with `warming.add`. */
  registered: number;
  /** Warm runs in progress. */
  running: number;
  /** Warm runs finished. */
  runs: number;
  /** Units (calls) warmed without error, over all runs. */
  warmed: number;
  /** Warmers that failed, over all runs. */
  failures: number;
  /** Active schedules. */
  schedules: ScheduleStats[];
  replay: {
    /** True when a heat store is configured. */
    enabled: boolean;
    /** Receivers registered for replay. */
    receivers: number;
    /** True while the flush timer runs. */
    recording: boolean;
    /** Calls of replay-enabled methods counted. */
    recorded: number;
    /** Distinct calls not recorded because their arguments cannot be replayed (or are too long). */
    unreplayable: number;
    /** Distinct calls not counted because `maxTracked` calls already waited for a flush. */
    dropped: number;
    /** Distinct calls waiting for the next flush. */
    pending: number;
    flushes: number;
    flushErrors: number;
    /** Calls replayed on warm-up. */
    replayed: number;
    /** Recorded calls that replay could not make (unregistered class, method without `replay`, unreadable member). */
    skipped: number;
  };
}

/** What a cache hands its warming. */
export interface WarmingHost {
  /** The root cache, given to function warmers. */
  readonly cache: Cache;
  readonly prefix: string;
  readonly policies: Readonly<Record<string, PolicyOptions<any>>> | undefined;
  /** Reports a failure nobody awaits on the cache's `error` event. */
  report(error: CacheError, operation: string, key?: string): void;
}

/**
 * A cache's warming: startup, scheduled and replay warmers. Reached as `cache.warming`; every
 * timer it starts is unref'd, listed in `cache.stats().warming`, and stopped by `cache.close()`.
 *
 * ```ts
 * cache.warming.add(warmMethod(products, 'find', () => topProductIds(), { name: 'popular products', policy: 'products' }));
 * cache.warming.register(products);      // receivers replay may call
 * const ready = cache.warm();            // the policy's warm_on_startup warmers, then the hottest recorded calls
 * server.listen(port);                   // or: await ready first
 * ```
 */
export class Warming {
  private readonly settings: ResolvedWarming;
  private readonly recorder: HeatRecorder;
  private readonly heatKey: string;
  private readonly events = new WarmingEvents();
  private readonly targets = new ReplayTargets();
  private readonly jobs: WarmJob[] = [];
  private readonly schedules = new Map<string, WarmSchedule>();
  private readonly policyStartup = new Map<string, boolean>();
  private readonly policySchedule = new Map<string, string>();
  private readonly abort = new AbortController();
  private closing: Promise<void> | undefined;
  private nextRun = 1;
  private counters = { running: 0, runs: 0, warmed: 0, failures: 0, replayed: 0, skipped: 0 };

  constructor(
    options: WarmingOptions | undefined,
    private readonly host: WarmingHost,
  ) {
    this.settings = resolveWarming(options);
    for (const [name, p] of Object.entries(host.policies ?? {})) {
      if (!p || typeof p !== 'object') continue; // the engine reports malformed policies
      if (p.warmOnStartup !== undefined) {
        if (typeof p.warmOnStartup !== 'boolean')
          throw new CacheConfigError(
            `policies.${name}.warmOnStartup`,
            p.warmOnStartup,
            'expected true or false',
          );
        this.policyStartup.set(name, p.warmOnStartup);
      }
      if (p.warmSchedule !== undefined)
        this.policySchedule.set(name, validateCron(`policies.${name}.warmSchedule`, p.warmSchedule));
    }
    this.heatKey = `${host.prefix}:__:heat`;
    const s = this.settings;
    this.recorder = new HeatRecorder({
      store: s.heatStore,
      key: this.heatKey,
      capacity: s.heatCapacity,
      maxTracked: s.maxTracked,
      maxArgBytes: s.maxArgBytes,
      flushIntervalMs: s.flushIntervalMs,
      heatTtlMs: s.heatTtlMs,
      timeoutMs: s.heatTimeoutMs,
      report: host.report,
    });
  }

  /**
   * Registers warmers. A warmer with `every` or `cron`, or whose policy has a `warmSchedule`,
   * is scheduled at once; one with `onStartup`, or whose policy has `warmOnStartup`, is run by
   * `cache.warm()`. A policy's schedule runs all of its warmers together, skipping a firing
   * while the previous run is still going.
   */
  add(...warmers: Warmer[]): this {
    const known = new Set(this.jobs.map((j) => j.name));
    const jobs = warmers.map((w, i) => {
      const job = toWarmJob(w, `warmers[${i}]`);
      this.checkJob(job);
      if (known.has(job.name))
        throw new CacheConfigError('warmers', job.name, `a warmer named "${job.name}" is already registered`);
      known.add(job.name);
      return job;
    });
    for (const job of jobs) {
      this.jobs.push(job);
      if (this.closing !== undefined) continue;
      if (job.every !== undefined) this.startSchedule(job.name, { every: job.every }, () => [job]);
      else if (job.cron !== undefined) this.startSchedule(job.name, { cron: job.cron }, () => [job]);
      else if (job.policy !== undefined) {
        const cron = this.policySchedule.get(job.policy);
        const policy = job.policy;
        if (cron !== undefined)
          this.startSchedule(`policy:${policy}`, { cron }, () =>
            this.jobs.filter((j) => j.policy === policy && j.every === undefined && j.cron === undefined),
          );
      }
    }
    return this;
  }

  /**
   * Registers the receivers replay may call: instances, or classes for static methods, one per
   * class name. Replay makes a recorded call only on a registered receiver and only to a method
   * decorated `@Cacheable({ replay: true })`, whatever the shared heat set holds.
   */
  register(...receivers: object[]): this {
    this.targets.add(receivers);
    return this;
  }

  /**
   * Runs warmers now; `cache.warm(...)` calls this. Without `warmers`, runs the startup warmers
   * and replays the hottest recorded calls. Bad arguments throw at once; the returned promise
   * never rejects (failures are in the report, on the `warmer` event and on the cache's `error`
   * event), so it may be left running while the application starts serving.
   */
  run(
    warmers?: readonly Warmer[],
    options: WarmOptions = {},
    reason: WarmReason = 'manual',
  ): Promise<WarmReport> {
    if (warmers !== undefined && !Array.isArray(warmers))
      throw new CacheConfigError('warmers', warmers, 'expected a list of warmers');
    if (options === null || typeof options !== 'object')
      throw new CacheConfigError('options', options, 'expected warm options');
    const jobs: WarmJob[] =
      warmers === undefined
        ? this.jobs.filter((j) => this.isStartup(j))
        : warmers.map((w, i) => {
            const job = toWarmJob(w, `warmers[${i}]`);
            this.checkJob(job);
            return job;
          });
    if (options.replay !== undefined && typeof options.replay !== 'boolean')
      throw new CacheConfigError('replay', options.replay, 'expected true or false');
    const replay = options.replay ?? warmers === undefined;
    const store = this.settings.heatStore;
    if (options.replay === true && store === undefined)
      throw new CacheConfigError(
        'replay',
        true,
        'replay needs warming.heatStore (e.g. new RedisHeatStore(...))',
      );
    if (replay && store !== undefined) {
      jobs.unshift(
        replayJob(
          store,
          this.heatKey,
          this.settings.replayTop,
          this.settings.heatTimeoutMs,
          this.targets,
          (n) => (this.counters.skipped += n),
        ),
      );
    }
    const concurrency = positiveInt('concurrency', options.concurrency, this.settings.concurrency);
    const stream =
      options.progress === undefined ? this.settings.progress : resolveProgress('progress', options.progress);
    return this.execute(
      jobs,
      reason === 'manual' && warmers === undefined ? 'startup' : reason,
      concurrency,
      stream,
    );
  }

  /** Adds the call counts gathered so far to the heat store now (they are otherwise flushed every `flushInterval`). */
  flush(): Promise<void> {
    return this.recorder.flush();
  }

  /** Subscribes to a warming event: `start`, `progress`, `warmer`, `done`, `skipped`. */
  on<E extends WarmingEventName>(event: E, listener: (payload: WarmingEventMap[E]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  /** Unsubscribes from a warming event. */
  off<E extends WarmingEventName>(event: E, listener: (payload: WarmingEventMap[E]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** Counters and schedules. */
  stats(): WarmingStats {
    const c = this.counters;
    const r = this.recorder.counters;
    return {
      registered: this.jobs.length,
      running: c.running,
      runs: c.runs,
      warmed: c.warmed,
      failures: c.failures,
      schedules: [...this.schedules.values()].map((s) => s.stats()),
      replay: {
        enabled: this.settings.heatStore !== undefined,
        receivers: this.targets.size,
        recording: this.recorder.active,
        recorded: r.recorded,
        unreplayable: r.unreplayable,
        dropped: r.dropped,
        pending: this.recorder.pending,
        flushes: r.flushes,
        flushErrors: r.flushErrors,
        replayed: c.replayed,
        skipped: c.skipped,
      },
    };
  }

  /**
   * @internal Counts a call of a replay-enabled method; called by `@Cacheable` on every such
   * call, hit or miss. In memory only: see `HeatRecorder`.
   */
  record(site: CallSite, method: string, self: unknown, key: unknown, args: readonly unknown[]): void {
    this.recorder.record(site, method, self, key, args);
  }

  /**
   * @internal Called by `cache.close()`: stops the schedules and the flush timer, stops runs
   * between calls, flushes the remaining counts and closes the heat store.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    for (const s of this.schedules.values()) s.stop();
    this.abort.abort();
    this.closing = (async () => {
      await this.recorder.close();
      await this.settings.heatStore?.close?.().catch(() => {});
    })();
    return this.closing;
  }

  private execute(
    jobs: WarmJob[],
    reason: WarmReason,
    concurrency: number,
    stream: ResolvedWarming['progress'],
  ): Promise<WarmReport> {
    const run = this.nextRun++;
    if (this.closing !== undefined) {
      return Promise.resolve({ run, reason, ok: false, cancelled: true, ms: 0, warmers: [] });
    }
    const bar = stream === undefined ? undefined : ProgressBar.on(stream);
    const c = this.counters;
    c.running++;
    return executeRun(jobs, {
      run,
      reason,
      concurrency,
      signal: this.abort.signal,
      cache: this.host.cache,
      events: this.events,
      bar,
      report: this.host.report,
      onWarmer: (r: WarmerResult) => {
        c.warmed += r.done - r.failed;
        if (!r.ok) c.failures++;
        if (r.name === REPLAY_WARMER) c.replayed += r.done - r.failed;
      },
    }).finally(() => {
      c.running--;
      c.runs++;
      bar?.close();
    });
  }

  private isStartup(j: WarmJob): boolean {
    return j.onStartup ?? (j.policy !== undefined && this.policyStartup.get(j.policy) === true);
  }

  private checkJob(job: WarmJob): void {
    if (job.name === REPLAY_WARMER)
      throw new CacheConfigError('warmers', job.name, `"${REPLAY_WARMER}" is the name of replay warming`);
    const policies = this.host.policies ?? {};
    if (job.policy !== undefined && !Object.hasOwn(policies, job.policy)) {
      throw new CacheConfigError(
        `${job.name}.policy`,
        job.policy,
        `no such policy; known: ${Object.keys(policies).join(', ') || 'none'}`,
      );
    }
  }

  private startSchedule(
    name: string,
    spec: { every: number } | { cron: string },
    jobs: () => WarmJob[],
  ): void {
    if (this.schedules.has(name)) return;
    const s = new WarmSchedule(
      name,
      spec,
      () =>
        // No progress bar: a background run must not draw over the application's output.
        this.execute(jobs(), 'schedule', this.settings.concurrency, undefined).then((r) => r.ok),
      (schedule) => this.events.emit('skipped', { schedule }),
    );
    this.schedules.set(name, s);
    s.start();
  }
}
