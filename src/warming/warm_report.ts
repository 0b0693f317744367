/** Why a warm run started. */
export type WarmReason = 'startup' | 'manual' | 'schedule';

/** The outcome of one warmer in a run. */
export interface WarmerResult {
  /** The warmer's name, e.g. `popular products`; `replay` for replay warming. */
  readonly name: string;
  /** True when nothing failed. */
  readonly ok: boolean;
  /** Units to warm: argument lists of a method warmer, replayed calls, or what a function warmer announced (1 otherwise). */
  readonly total: number;
  /** Units finished, failed ones included. */
  readonly done: number;
  /** Units that threw. */
  readonly failed: number;
  /** Replayed calls that could not be made (unknown class or method, unreadable arguments). */
  readonly skipped: number;
  readonly ms: number;
  /** The first error, when something failed. */
  readonly error?: Error;
}

/** The outcome of a warm run: resolved, never rejected, so that a run nobody awaits cannot crash the process. */
export interface WarmReport {
  /** Number of the run, as in the `start` and `progress` events. */
  readonly run: number;
  readonly reason: WarmReason;
  /** True when every warmer succeeded and the run was not cancelled. */
  readonly ok: boolean;
  /** True when `close()` stopped the run before it finished. */
  readonly cancelled: boolean;
  readonly ms: number;
  readonly warmers: readonly WarmerResult[];
}
