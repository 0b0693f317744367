export { WriteBehind, type WriteRequest, type PendingState } from './write_behind';
export type { WriteBehindOptions } from './write_behind_options';
export type { WriteBehindStats, LatencySummary } from './write_behind_stats';
export type { WriteBehindEventMap, WriteBehindEventName } from './write_behind_events';
export { MemoryWriteQueue, type MemoryWriteQueueOptions } from './memory_write_queue';
export type {
  WriteQueue,
  WriteOp,
  QueuedWrite,
  QueueEntry,
  PendingWrite,
  RowRecord,
  Completion,
  RowVersion,
  ClaimResult,
  DeadLetter,
  QueueDepth,
} from './write_queue';
export type { WriteTarget, RowWrite, FailureKind } from './write_target';
export { backoffDelay } from './backoff';
