import { EventEmitter } from 'node:events';
import type { WarmerResult, WarmReason, WarmReport } from './warm_report';

/** Payloads of the events `cache.warming` emits. */
export interface WarmingEventMap {
  /** A run began. */
  start: { run: number; reason: WarmReason; warmers: readonly string[] };
  /** A warmer advanced, e.g. `{ warmer: 'popular products', done: 640, total: 1000 }`. */
  progress: { run: number; warmer: string; done: number; total: number; failed: number };
  /** A warmer finished (successfully or not). */
  warmer: WarmerResult & { run: number };
  /** A run finished. */
  done: WarmReport;
  /** A scheduled run was skipped because the previous one was still running. */
  skipped: { schedule: string };
}

/** Names of the warming events. */
export type WarmingEventName = keyof WarmingEventMap;

/** A typed emitter whose listener exceptions cannot break a warm run. */
export class WarmingEvents {
  private readonly emitter = new EventEmitter();

  /** Subscribes to an event. */
  on<E extends WarmingEventName>(event: E, listener: (payload: WarmingEventMap[E]) => void): void {
    this.emitter.on(event, listener);
  }

  /** Unsubscribes. */
  off<E extends WarmingEventName>(event: E, listener: (payload: WarmingEventMap[E]) => void): void {
    this.emitter.off(event, listener);
  }

  /** True when someone listens to `event` (progress payloads are only built then). */
  has(event: WarmingEventName): boolean {
    return this.emitter.listenerCount(event) > 0;
  }

  /** Emits an event; a throwing listener is the listener's bug and is contained. */
  emit<E extends WarmingEventName>(event: E, payload: WarmingEventMap[E]): void {
    if (this.emitter.listenerCount(event) === 0) return;
    try {
      this.emitter.emit(event, payload);
    } catch {
      // Warming goes on whatever a listener does.
    }
  }
}
