import { coarseNow } from '../../src/engine/clock';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('coarse clock', () => {
  test('a reading is reused for at most 1,000 calls, however long they take', () => {
    coarseNow();
    const start = Date.now();
    while (Date.now() < start + 3) {
      // wait without calling the coarse clock
    }
    const later = Date.now();
    let last = 0;
    for (let i = 0; i < 1001; i++) last = coarseNow();
    expect(last).toBeGreaterThanOrEqual(later);
  });

  test('once the event loop turns, the next reading is fresh', async () => {
    coarseNow();
    // The 1 ms timer that drops the reading was armed before this sleep's timer, so it has fired.
    await sleep(10);
    const before = Date.now();
    expect(coarseNow()).toBeGreaterThanOrEqual(before);
  });

  test('under fake timers it follows every jump of the fake clock, including setSystemTime', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      expect(coarseNow()).toBe(1_000_000);
      jest.setSystemTime(5_000_000);
      expect(coarseNow()).toBe(5_000_000);
      jest.advanceTimersByTime(10);
      expect(coarseNow()).toBe(5_000_010);
    } finally {
      jest.useRealTimers();
    }
    await sleep(10);
    const before = Date.now();
    expect(coarseNow()).toBeGreaterThanOrEqual(before);
  });
});
