import { HitWindow } from '../../src/prometheus/hit_window';

describe('HitWindow', () => {
  test('the current window counts the lookups since the newest reading a window old', () => {
    const w = new HitWindow(1000, 100);
    w.add({ at: 0, hits: 0, misses: 0 });
    w.add({ at: 500, hits: 50, misses: 50 });
    w.add({ at: 1000, hits: 100, misses: 100 });
    w.add({ at: 1500, hits: 190, misses: 110 });
    // From the reading at 500 to the one at 1500.
    expect(w.counts(0)).toEqual({ hits: 140, misses: 60, ratio: 0.7, from: 500, to: 1500 });
    // The window before it: 0 → 500.
    expect(w.counts(1)).toEqual({ hits: 50, misses: 50, ratio: 0.5, from: 0, to: 500 });
  });

  test('a young window covers what there is; it has no window before it', () => {
    const w = new HitWindow(1000, 100);
    w.add({ at: 0, hits: 0, misses: 0 });
    expect(w.counts(0)).toBeUndefined();
    w.add({ at: 300, hits: 3, misses: 1 });
    expect(w.counts(0)).toEqual({ hits: 3, misses: 1, ratio: 0.75, from: 0, to: 300 });
    expect(w.counts(1)).toBeUndefined();
  });

  test('no lookup in the window is NaN, not 0 or 1', () => {
    const w = new HitWindow(1000, 100);
    w.add({ at: 0, hits: 5, misses: 5 });
    w.add({ at: 2000, hits: 5, misses: 5 });
    expect(w.counts(0)?.ratio).toBeNaN();
  });

  test('memory stays bounded however often it is read', () => {
    const w = new HitWindow(1000, 100);
    for (let t = 0; t <= 100_000; t++) w.add({ at: t, hits: t, misses: 0 });
    // Two windows of 1 s in steps of 100 ms, plus the edges and the newest.
    expect(w.size).toBeLessThanOrEqual(2 * 10 + 3);
    // Readings are kept a step apart: a window spans between one and one step more.
    const cur = w.counts(0)!;
    expect(cur.to).toBe(100_000);
    expect(cur.to - cur.from).toBeGreaterThanOrEqual(1000);
    expect(cur.to - cur.from).toBeLessThan(1100);
    expect(cur.hits).toBe(cur.to - cur.from);
    const prev = w.counts(1)!;
    expect(prev.to).toBe(cur.from);
    expect(prev.hits).toBe(prev.to - prev.from);
    expect(prev.to - prev.from).toBeGreaterThanOrEqual(1000);
  });
});
