import { Cron } from 'croner';
import { CacheConfigError } from '../errors';

/** A schedule's counters, as `stats().warming.schedules` shows them. */
export interface ScheduleStats {
  /** The warmer's name, or `policy:<name>` for a policy's `warmSchedule`. */
  readonly name: string;
  /** `every 5m` style interval in ms, or the cron expression. */
  readonly every: number | undefined;
  readonly cron: string | undefined;
  /** Runs started. */
  readonly runs: number;
  /** Firings skipped because the previous run was still going. */
  readonly skipped: number;
  /** Runs that reported a failure. */
  readonly failures: number;
  readonly running: boolean;
  /** When it fires next (epoch ms), while it is active. */
  readonly nextRunAt: number | undefined;
}

/** Checks a cron expression with croner; `option` names it in the error. */
export function validateCron(option: string, pattern: unknown): string {
  if (typeof pattern !== 'string' || pattern.trim() === '') {
    throw new CacheConfigError(option, pattern, 'expected a cron expression such as "0 */6 * * *"');
  }
  try {
    // Paused: this only parses; nothing is scheduled.
    new Cron(pattern, { paused: true }).stop();
  } catch (err) {
    throw new CacheConfigError(option, pattern, `not a valid cron expression: ${(err as Error).message}`);
  }
  return pattern;
}

/**
 * One recurring warm run, by interval or cron expression. A firing while the previous run is
 * still going is skipped (and counted), so a slow warmer never piles up runs against the
 * database. Timers are unref'd: a schedule never keeps the process alive on its own.
 */
export class WarmSchedule {
  private runs = 0;
  private skipped = 0;
  private failures = 0;
  private running = false;
  private interval: NodeJS.Timeout | undefined;
  private cronJob: Cron | undefined;
  private startedAt = 0;

  constructor(
    readonly name: string,
    private readonly spec: { every: number; cron?: undefined } | { cron: string; every?: undefined },
    /** Runs the warmers; resolves to whether everything succeeded. Must not reject. */
    private readonly fire: () => Promise<boolean>,
    private readonly onSkip: (name: string) => void,
  ) {}

  /** Starts the timer. */
  start(): void {
    if (this.interval !== undefined || this.cronJob !== undefined) return;
    this.startedAt = Date.now();
    if (this.spec.every !== undefined) {
      this.interval = setInterval(() => this.tick(), this.spec.every);
      this.interval.unref();
    } else {
      this.cronJob = new Cron(this.spec.cron, { unref: true, catch: true }, () => this.tick());
    }
  }

  /** Stops the timer; a run in progress finishes on its own. */
  stop(): void {
    if (this.interval !== undefined) clearInterval(this.interval);
    this.interval = undefined;
    this.cronJob?.stop();
    this.cronJob = undefined;
  }

  /** A snapshot of the counters. */
  stats(): ScheduleStats {
    let nextRunAt: number | undefined;
    if (this.cronJob !== undefined) nextRunAt = this.cronJob.nextRun()?.getTime();
    else if (this.interval !== undefined && this.spec.every !== undefined) {
      const every = this.spec.every;
      const elapsed = Date.now() - this.startedAt;
      nextRunAt = this.startedAt + (Math.floor(elapsed / every) + 1) * every;
    }
    return {
      name: this.name,
      every: this.spec.every,
      cron: this.spec.cron,
      runs: this.runs,
      skipped: this.skipped,
      failures: this.failures,
      running: this.running,
      nextRunAt,
    };
  }

  private tick(): void {
    if (this.running) {
      this.skipped++;
      this.onSkip(this.name);
      return;
    }
    this.running = true;
    this.runs++;
    void this.fire()
      .then(
        (ok) => {
          if (!ok) this.failures++;
        },
        () => {
          this.failures++;
        },
      )
      .finally(() => {
        this.running = false;
      });
  }
}
