export { Warming, type WarmingStats } from './warming';
export type { WarmingOptions, WarmOptions } from './warming_options';
export {
  warmMethod,
  type ArgLists,
  type FunctionWarmer,
  type MethodName,
  type MethodWarmer,
  type Warmer,
  type WarmerTiming,
  type WarmContext,
  type WarmFunction,
} from './warmer';
export type { WarmerResult, WarmReason, WarmReport } from './warm_report';
export type { WarmingEventMap, WarmingEventName } from './warming_events';
export type { HeatEntry, HeatStore } from './heat_store';
export type { ProgressStream } from './progress_bar';
export type { ScheduleStats } from './warm_schedule';
export { CacheWarmError } from './warm_error';
