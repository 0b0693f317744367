import { EventEmitter } from 'node:events';
import type { WriteOp } from './write_queue';

/** Payloads of the events a write-behind cache emits. */
export interface WriteBehindEventMap {
  /** A batch committed. */
  flush: { rows: number; entries: number; durationMs: number };
  /** A batch failed and will be tried again after `delayMs`. */
  retry: { rows: number; attempt: number; delayMs: number; error: unknown };
  /** A write was given up on and moved to the dead-letter log; its cache entry was invalidated. */
  deadLetter: {
    entity: string;
    key: string;
    op: WriteOp;
    version: number;
    /** The decoded state (save) or primary key (remove) that could not be written. */
    value: unknown;
    error: unknown;
    attempts: number;
  };
  /** Queue depth, read about every quarter second while the flusher runs. */
  depth: { pending: number; oldestPendingMs: number };
  /** A failure nobody awaited (the queue unreachable, a cache refresh that failed). */
  error: { error: unknown; operation: string };
}

/** Names of the events a write-behind cache emits. */
export type WriteBehindEventName = keyof WriteBehindEventMap;

/** A typed emitter whose listeners cannot break the flusher. */
export class WriteBehindEvents {
  private readonly emitter = new EventEmitter();

  /** Subscribes to an event. */
  on<E extends WriteBehindEventName>(event: E, listener: (payload: WriteBehindEventMap[E]) => void): void {
    this.emitter.on(event, listener);
  }

  /** Unsubscribes. */
  off<E extends WriteBehindEventName>(event: E, listener: (payload: WriteBehindEventMap[E]) => void): void {
    this.emitter.off(event, listener);
  }

  /** Emits; a throwing listener is contained, and an unheard `error` is not thrown. */
  emit<E extends WriteBehindEventName>(event: E, payload: WriteBehindEventMap[E]): void {
    if (this.emitter.listenerCount(event) === 0) return;
    try {
      this.emitter.emit(event, payload);
    } catch {
      // The listener's bug must not stop the flusher.
    }
  }
}
