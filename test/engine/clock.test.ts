import { coarseNow } from '../../src/engine/clock';

describe('coarse clock', () => {
  test('with real timers it is never more than a few ms behind the system clock', async () => {
    for (let i = 0; i < 20; i++) {
      for (let j = 0; j < 3000; j++) coarseNow();
      const drift = Date.now() - coarseNow();
      expect(drift).toBeGreaterThanOrEqual(0);
      expect(drift).toBeLessThan(5);
      await new Promise((r) => setTimeout(r, 2));
    }
  });

  test('under fake timers it follows every jump of the fake clock, including setSystemTime', () => {
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
    expect(Math.abs(coarseNow() - Date.now())).toBeLessThan(5);
  });
});
