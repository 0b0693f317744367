import type { Cache } from '../cache';
import { type Duration, parseDuration } from '../engine/duration';
import { CacheConfigError } from '../errors';
import { receiverClassName } from '../decorators/method_decorator';
import { cacheableMethodInfo } from './cacheable_methods';
import type { WarmReason } from './warm_report';
import { validateCron } from './warm_schedule';

/** What a function warmer is handed. */
export interface WarmContext {
  /** The cache being warmed (the root cache). */
  readonly cache: Cache;
  /** Aborted when the cache closes: a long warmer should stop then. */
  readonly signal: AbortSignal;
  /** Why this run started. */
  readonly reason: WarmReason;
  /** Announces how many units this warmer will warm, for progress (`warming 640/1000 …`). */
  total(n: number): void;
  /** Reports `n` more units warmed (default 1). */
  advance(n?: number): void;
}

/** A warmer as a function: its `name` names it in progress and reports, so it must have one. */
export type WarmFunction = (ctx: WarmContext) => unknown;

/** When a warmer runs besides explicit `cache.warm([...])` calls. */
export interface WarmerTiming {
  /**
   * A named policy of the cache. The warmer then follows the policy's `warmOnStartup` and
   * `warmSchedule` (from `new Cache({ policies })` or the config file's `warm_on_startup` and
   * `warm_schedule`). A method warmer defaults to its `@Cacheable` policy.
   */
  policy?: string;
  /** Part of the startup warmers that `cache.warm()` runs. Default: the policy's `warmOnStartup`, else false. */
  onStartup?: boolean;
  /** Re-run every interval, e.g. `'5m'`. Excludes `cron`. */
  every?: Duration;
  /** Re-run on a cron expression, e.g. `'*\/15 * * * *'`; overrides the policy's `warmSchedule`. */
  cron?: string;
}

/** A named function warmer, e.g. one that loads the 1,000 most viewed products into the cache. */
export interface FunctionWarmer extends WarmerTiming {
  readonly name: string;
  run: WarmFunction;
}

/** Argument lists of a method warmer: a list, or a function producing one when the warmer runs. */
export type ArgLists<A extends readonly unknown[] = readonly unknown[]> =
  readonly A[] | (() => Iterable<A> | Promise<Iterable<A>>);

/**
 * A `@Cacheable` method called once per argument list: a miss loads and caches the result, an
 * entry already cached is left alone unless `refresh` is set.
 */
export interface MethodWarmer<T extends object = any> extends WarmerTiming {
  /** Default `Class.method`. */
  readonly name?: string;
  /** The instance (or, for a static method, the class) to call the method on. */
  readonly target: T;
  readonly method: MethodName<T>;
  readonly args: ArgLists;
  /**
   * Reload even when an entry is cached: the entry is deleted, then the method called (in the
   * meantime readers load it themselves). Use it for scheduled re-warming. Default false.
   */
  readonly refresh?: boolean;
}

/** Names of the methods of `T`. */
export type MethodName<T> = Extract<
  { [K in keyof T]: T[K] extends (...args: any[]) => any ? K : never }[keyof T],
  string
>;

/** A warmer: a named function, a function warmer object, or a method warmer. */
export type Warmer = WarmFunction | FunctionWarmer | MethodWarmer;

/**
 * A typed method warmer: `warmMethod(products, 'find', [[1], [2], [3]])` calls
 * `products.find(1)`, `find(2)` and `find(3)`, and the argument lists must fit the method.
 */
export function warmMethod<T extends object, M extends MethodName<T>>(
  target: T,
  method: M,
  args: ArgLists<T[M] extends (...a: infer A) => any ? A : never>,
  options: Omit<MethodWarmer<T>, 'target' | 'method' | 'args'> = {},
): MethodWarmer<T> {
  return { ...options, target, method, args: args as ArgLists };
}

/** The calls one warmer makes in one run. */
export interface PreparedWarmer {
  readonly total: number;
  /** Replayed calls that cannot be made. */
  readonly skipped: number;
  /** True when the warmer reports its own progress through `WarmContext` (function warmers). */
  readonly selfReporting: boolean;
  readonly units: readonly ((ctx: WarmContext) => Promise<unknown>)[];
}

/** A validated warmer. */
export interface WarmJob {
  readonly name: string;
  readonly policy: string | undefined;
  readonly onStartup: boolean | undefined;
  readonly every: number | undefined;
  readonly cron: string | undefined;
  /** Lists the calls of one run; a rejection fails this warmer only. */
  prepare(): Promise<PreparedWarmer>;
}

/** Validates a warmer; `option` names it in errors, e.g. `warmers[2]`. */
export function toWarmJob(w: Warmer, option: string): WarmJob {
  if (typeof w === 'function') {
    if (w.name === '')
      throw new CacheConfigError(
        option,
        w,
        'a warmer function needs a name: use a named function or { name, run }',
      );
    return functionJob(w.name, w, {}, option);
  }
  if (w === null || typeof w !== 'object')
    throw new CacheConfigError(
      option,
      w,
      'expected a warmer: a named function, { name, run } or { target, method, args }',
    );
  if ('run' in w) {
    if (typeof w.name !== 'string' || w.name === '')
      throw new CacheConfigError(`${option}.name`, w.name, 'expected a non-empty name');
    if (typeof w.run !== 'function')
      throw new CacheConfigError(`${option}.run`, w.run, 'expected a function');
    return functionJob(w.name, w.run, w, option);
  }
  return methodJob(w as MethodWarmer, option);
}

function functionJob(name: string, run: WarmFunction, timing: WarmerTiming, option: string): WarmJob {
  const t = checkTiming(timing, option);
  const units = [async (ctx: WarmContext) => run(ctx)];
  return {
    name,
    ...t,
    policy: t.policy,
    prepare: async () => ({ total: 1, skipped: 0, selfReporting: true, units }),
  };
}

function methodJob(w: MethodWarmer, option: string): WarmJob {
  const target = w.target as Record<string, unknown> | null;
  if (target === null || (typeof target !== 'object' && typeof target !== 'function'))
    throw new CacheConfigError(
      `${option}.target`,
      target,
      'expected the instance (or class) whose method to call',
    );
  const method = w.method;
  if (typeof method !== 'string')
    throw new CacheConfigError(`${option}.method`, method, 'expected a method name');
  const info = cacheableMethodInfo(target[method]);
  if (info === undefined) {
    throw new CacheConfigError(
      `${option}.method`,
      method,
      `${receiverClassName(target)}.${method} is not a @Cacheable method: calling it would not fill the cache`,
    );
  }
  if (w.refresh !== undefined && typeof w.refresh !== 'boolean')
    throw new CacheConfigError(`${option}.refresh`, w.refresh, 'expected true or false');
  const name = w.name ?? `${receiverClassName(target)}.${method}`;
  if (typeof name !== 'string' || name === '')
    throw new CacheConfigError(`${option}.name`, name, 'expected a non-empty name');
  const args = w.args;
  if (typeof args !== 'function') checkArgLists(`${option}.args`, args);
  const refresh = w.refresh === true;
  const t = checkTiming({ ...w, policy: w.policy ?? info.policy }, option);

  const call = async (list: readonly unknown[]) => {
    const a = [...list];
    if (refresh) {
      const e = info.entryOf(target, a);
      // A delete that fails (L2 down) fails the unit: reloading would only read the old entry back.
      if (e !== undefined) await e.cache.delete(e.key);
    }
    // Through the property, so that what is called is exactly what application code calls.
    return (target[method] as (...x: unknown[]) => unknown)(...a);
  };
  return {
    name,
    ...t,
    async prepare() {
      const lists = typeof args === 'function' ? [...(await args())] : args;
      if (typeof args === 'function') checkArgLists(`${name}.args()`, lists);
      return {
        total: lists.length,
        skipped: 0,
        selfReporting: false,
        units: lists.map((list) => () => call(list)),
      };
    },
  };
}

function checkArgLists(option: string, lists: unknown): asserts lists is readonly (readonly unknown[])[] {
  if (!Array.isArray(lists))
    throw new CacheConfigError(option, lists, 'expected a list of argument lists, e.g. [[1], [2]]');
  for (let i = 0; i < lists.length; i++) {
    if (!Array.isArray(lists[i]))
      throw new CacheConfigError(
        `${option}[${i}]`,
        lists[i],
        'expected an argument list (an array), e.g. [1]',
      );
  }
}

function checkTiming(
  t: WarmerTiming,
  option: string,
): Pick<WarmJob, 'policy' | 'onStartup' | 'every' | 'cron'> {
  if (t.policy !== undefined && (typeof t.policy !== 'string' || t.policy === ''))
    throw new CacheConfigError(`${option}.policy`, t.policy, 'expected a policy name');
  if (t.onStartup !== undefined && typeof t.onStartup !== 'boolean')
    throw new CacheConfigError(`${option}.onStartup`, t.onStartup, 'expected true or false');
  if (t.every !== undefined && t.cron !== undefined)
    throw new CacheConfigError(`${option}.every`, t.every, 'give either every or cron, not both');
  return {
    policy: t.policy,
    onStartup: t.onStartup,
    every: t.every === undefined ? undefined : parseDuration(`${option}.every`, t.every),
    cron: t.cron === undefined ? undefined : validateCron(`${option}.cron`, t.cron),
  };
}
