/**
 * Delay before retry number `attempt` (1 for the first retry): exponential from `baseMs`,
 * capped at `maxMs`, with "full jitter" (uniform in [0, delay]) so that instances that failed
 * together do not retry together. `random` is injectable for tests.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  // A floor of a tenth keeps a retry storm from collapsing to zero delay.
  return Math.round(exp / 10 + random() * (exp - exp / 10));
}
