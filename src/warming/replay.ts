import { CacheConfigError } from '../errors';
import { receiverClassName } from '../decorators/method_decorator';
import { cacheableMethodInfo } from './cacheable_methods';
import type { HeatStore } from './heat_store';
import { decodeCall } from './replay_call';
import type { PreparedWarmer, WarmJob } from './warmer';
import { withTimeout } from './with_timeout';

/** The warmer name replay reports under. */
export const REPLAY_WARMER = 'replay';

/**
 * The receivers replay may call, by class name. The application registers them: on a cold start
 * nothing has been called yet, so a decorator could not have remembered a receiver; and the
 * registry doubles as an allow-list, since the calls come from a shared store. A recorded call is
 * made only on a registered receiver, and only to a method decorated `@Cacheable({ replay: true })`.
 */
export class ReplayTargets {
  private readonly byClass = new Map<string, object>();

  /** Registers instances (or classes, for static methods); one receiver per class name. */
  add(targets: readonly object[]): void {
    for (const t of targets) {
      if (t === null || (typeof t !== 'object' && typeof t !== 'function'))
        throw new CacheConfigError(
          'warming.register',
          t,
          'expected an instance, or a class for static methods',
        );
      const name = receiverClassName(t);
      const known = this.byClass.get(name);
      if (known !== undefined && known !== t) {
        throw new CacheConfigError(
          'warming.register',
          name,
          `another receiver of class "${name}" is registered: replay calls one receiver per class name`,
        );
      }
      this.byClass.set(name, t);
    }
  }

  /** Number of registered receivers. */
  get size(): number {
    return this.byClass.size;
  }

  /** The receiver registered for a class name. */
  get(className: string): object | undefined {
    return this.byClass.get(className);
  }
}

/** The replay warmer: the `limit` hottest recorded calls, hottest first. */
export function replayJob(
  store: HeatStore,
  key: string,
  limit: number,
  timeoutMs: number,
  targets: ReplayTargets,
  onSkip: (n: number) => void,
): WarmJob {
  return {
    name: REPLAY_WARMER,
    policy: undefined,
    onStartup: undefined,
    every: undefined,
    cron: undefined,
    async prepare(): Promise<PreparedWarmer> {
      // Bounded: a start-up that awaits warming must not hang on an unreachable Redis.
      const hottest = await withTimeout('heat.top', () => store.top(key, limit), timeoutMs, key);
      const units: PreparedWarmer['units'][number][] = [];
      let skipped = 0;
      for (const { member } of hottest) {
        const call = decodeCall(member);
        const target = call && targets.get(call.className);
        const fn = target && (target as Record<string, unknown>)[call.method];
        const info = cacheableMethodInfo(fn);
        if (call === undefined || info === undefined || !info.replay || info.method !== call.method) {
          skipped++;
          continue;
        }
        const args = call.args;
        units.push(async () => (fn as (...a: unknown[]) => unknown).apply(target, args));
      }
      if (skipped > 0) onSkip(skipped);
      return { total: units.length, skipped, selfReporting: false, units };
    },
  };
}
