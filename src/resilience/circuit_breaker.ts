import { CacheConfigError } from '../errors';
import { type Duration, parseDuration } from '../engine/duration';

/** The state of a circuit breaker. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** When the L2 is considered down, and for how long it is left alone. */
export interface CircuitBreakerOptions {
  /** Failures or time-outs within `window` that open the circuit. Default 5. */
  failureThreshold?: number;
  /** The window failures are counted in. Default `'10s'`. */
  window?: Duration;
  /** How long the circuit stays open before one probe is let through. Default `'5s'`. */
  cooldown?: Duration;
}

/**
 * A circuit breaker for the L2. While open, L2 operations are skipped at once (callers go L1 →
 * loader) instead of each waiting out a timeout against a dead server; after `cooldown`, one
 * probe is let through, and its outcome closes or re-opens the circuit.
 */
export class CircuitBreaker {
  state: CircuitState = 'closed';
  /** Times the circuit opened. */
  opens = 0;
  private failures = 0;
  private windowStart = 0;
  private openedAt = 0;
  private probing = false;
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly cooldownMs: number;

  constructor(
    options: CircuitBreakerOptions,
    private readonly onChange: (state: CircuitState) => void,
  ) {
    const t = options.failureThreshold ?? 5;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1) {
      throw new CacheConfigError('l2.circuitBreaker.failureThreshold', t, 'expected a positive integer');
    }
    this.threshold = t;
    this.windowMs = parseDuration('l2.circuitBreaker.window', options.window ?? '10s');
    this.cooldownMs = parseDuration('l2.circuitBreaker.cooldown', options.cooldown ?? '5s');
  }

  /** Whether an operation may go to the L2 now. In half-open state, only one probe at a time. */
  allow(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (Date.now() - this.openedAt < this.cooldownMs) return false;
      this.set('half-open');
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  /** Records a successful L2 operation. */
  success(): void {
    if (this.state === 'half-open') {
      this.probing = false;
      this.failures = 0;
      this.set('closed');
    }
  }

  /** Records a failed or timed-out L2 operation. */
  failure(): void {
    const now = Date.now();
    if (this.state === 'half-open') {
      this.probing = false;
      this.open(now);
      return;
    }
    if (this.state === 'open') return;
    if (now - this.windowStart > this.windowMs) {
      this.windowStart = now;
      this.failures = 0;
    }
    if (++this.failures >= this.threshold) this.open(now);
  }

  private open(now: number): void {
    this.openedAt = now;
    this.opens++;
    this.set('open');
  }

  private set(state: CircuitState): void {
    if (this.state === state) return;
    this.state = state;
    this.onChange(state);
  }
}
