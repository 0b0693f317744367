import { CacheError } from '../errors';

/** A warmer failed; emitted on the cache's `error` event. The run and the other warmers went on. */
export class CacheWarmError extends CacheError {
  override name = 'CacheWarmError';
  constructor(
    /** The warmer's name. */
    readonly warmer: string,
    /** Units that threw (0 when the warmer failed before making any call). */
    readonly failed: number,
    /** Units the warmer had. */
    readonly total: number,
    cause: unknown,
  ) {
    super(
      `warmer "${warmer}" failed${total > 0 ? ` (${failed} of ${total} calls)` : ''}: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
  }
}
