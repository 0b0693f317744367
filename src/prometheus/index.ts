export {
  cacheMetrics,
  DEFAULT_LOAD_BUCKETS,
  type CacheMetrics,
  type CacheMetricsOptions,
} from './cache_metrics';
export {
  hitRatioAlert,
  type HitRatioAlert,
  type HitRatioAlertInfo,
  type HitRatioAlertOptions,
  type HitRatioAlertReason,
  type HitRatioRecoveryInfo,
  type HitRatioStatus,
} from './hit_ratio_alert';
