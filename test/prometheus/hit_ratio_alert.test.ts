import { Cache, CacheConfigError } from '../../src';
import {
  hitRatioAlert,
  type HitRatioAlertInfo,
  type HitRatioAlertOptions,
  type HitRatioRecoveryInfo,
} from '../../src/prometheus';

/** A memory cache, a hand-moved clock, and ways to make hits and misses. */
function rig(name: string) {
  const cache = new Cache({ prefix: name });
  const clock = { now: 1_000_000 };
  let cold = 0;
  const alerts: HitRatioAlertInfo[] = [];
  const recoveries: HitRatioRecoveryInfo[] = [];
  const traffic = async (c: Cache, hits: number, misses: number) => {
    for (let i = 0; i < hits; i++) await c.getOrLoad('hot', () => 'v');
    for (let i = 0; i < misses; i++) await c.get(`cold${cold++}`);
  };
  return {
    cache,
    alerts,
    recoveries,
    watch(options: Partial<HitRatioAlertOptions>) {
      return hitRatioAlert(cache, {
        clock: () => clock.now,
        onAlert: (a) => alerts.push(a),
        onRecover: (r) => recoveries.push(r),
        ...options,
      });
    },
    /** One second of traffic, then a check. */
    async second(watch: ReturnType<typeof hitRatioAlert>, hits: number, misses: number, c: Cache = cache) {
      await traffic(c, hits, misses);
      clock.now += 1000;
      return watch.check();
    },
    /** The hot key cached, before any watch starts. */
    async warm() {
      await cache.getOrLoad('hot', () => 'v');
    },
  };
}

describe('hitRatioAlert', () => {
  test('fires once when the ratio falls below the floor, recovers past the margin, fires again on a new fall', async () => {
    const r = rig('alert-below');
    await r.warm();
    const w = r.watch({ window: '10s', interval: '1s', minSamples: 10, below: 0.8, hysteresis: 0.05 });
    try {
      for (let s = 0; s < 12; s++) expect((await r.second(w, 10, 0)).alerting).toBe(false);
      // Half the lookups miss now: the window's ratio sinks from 1 towards 0.5.
      let fellAt = -1;
      for (let s = 0; s < 20; s++) {
        const st = await r.second(w, 5, 5);
        if (st.alerting && fellAt < 0) fellAt = s;
      }
      expect(fellAt).toBeGreaterThan(0);
      expect(r.alerts).toHaveLength(1);
      const a = r.alerts[0];
      expect(a).toMatchObject({ reason: 'below', threshold: 0.8, windowMs: 10_000, namespace: undefined });
      expect(a.ratio).toBeLessThan(0.8);
      expect(a.ratio).toBeCloseTo(a.hits / (a.hits + a.misses));
      expect(a.previousRatio).toBe(1);
      // 0.82: back above the floor, not above floor + margin. Still the same excursion.
      for (let s = 0; s < 15; s++) await r.second(w, 41, 9);
      expect(r.recoveries).toHaveLength(0);
      expect(w.check().alerting).toBe(true);
      // 0.9: recovered, once.
      for (let s = 0; s < 15; s++) await r.second(w, 9, 1);
      expect(r.recoveries).toHaveLength(1);
      expect(r.recoveries[0].ratio).toBeGreaterThanOrEqual(0.85);
      expect(r.recoveries[0].alert).toBe(a);
      expect(r.alerts).toHaveLength(1);
      // A new fall is a new excursion.
      for (let s = 0; s < 15; s++) await r.second(w, 1, 1);
      expect(r.alerts).toHaveLength(2);
      expect(r.recoveries).toHaveLength(1);
    } finally {
      w.stop();
      await r.cache.close();
    }
  });

  test('fires on a sharp drop from the window before, even above any floor, once; recovers when it climbs back', async () => {
    const r = rig('alert-drop');
    await r.warm();
    const w = r.watch({ window: '10s', interval: '1s', minSamples: 10, below: false, dropBy: 0.2 });
    try {
      // Two windows at 0.95, then 0.5.
      for (let s = 0; s < 20; s++) await r.second(w, 19, 1);
      expect(r.alerts).toHaveLength(0);
      for (let s = 0; s < 30; s++) await r.second(w, 10, 10);
      expect(r.alerts).toHaveLength(1);
      const a = r.alerts[0];
      expect(a.reason).toBe('drop');
      expect(a.previousRatio).toBeCloseTo(0.95);
      expect(a.threshold).toBeCloseTo(0.75);
      expect(a.previousRatio! - a.ratio).toBeGreaterThanOrEqual(0.2);
      // 30 s at 0.5: the window before is at 0.5 too by now, yet the excursion goes on.
      expect(r.recoveries).toHaveLength(0);
      expect(w.check()).toMatchObject({ alerting: true, previousRatio: 0.5 });
      for (let s = 0; s < 15; s++) await r.second(w, 19, 1);
      expect(r.recoveries).toHaveLength(1);
      expect(r.recoveries[0].alert.reason).toBe('drop');
      expect(r.alerts).toHaveLength(1);
    } finally {
      w.stop();
      await r.cache.close();
    }
  });

  test('a slow slide is not a sharp drop; a window with fewer than minSamples lookups is not judged', async () => {
    const r = rig('alert-quiet');
    await r.warm();
    const w = r.watch({ window: '10s', interval: '1s', minSamples: 50, below: 0.5, dropBy: 0.3 });
    try {
      // 0.95 → 0.75 in small steps over 60 s: each window is within 0.3 of the one before.
      for (let s = 0; s < 60; s++) {
        const missesPer100 = 5 + Math.floor((20 * s) / 60);
        await r.second(w, 100 - missesPer100, missesPer100);
      }
      expect(r.alerts).toHaveLength(0);
      // Now nearly idle, all misses: once the busy seconds left the window, 2 lookups a second
      // never make 50 in it.
      for (let s = 0; s < 30; s++) {
        const st = await r.second(w, 0, 2);
        if (s >= 10) expect(st).toMatchObject({ ratio: 0, lookups: 20, alerting: false });
      }
      expect(r.alerts).toHaveLength(0);
    } finally {
      w.stop();
      await r.cache.close();
    }
  });

  test('watches one namespace when asked: misses elsewhere do not count', async () => {
    const r = rig('alert-ns');
    const orders = r.cache.namespace('orders');
    await orders.getOrLoad('hot', () => 'v');
    const w = r.watch({ window: '5s', interval: '1s', minSamples: 10, below: 0.8, namespace: 'orders' });
    try {
      for (let s = 0; s < 10; s++) {
        await r.second(w, 0, 20); // root: all misses
        await r.second(w, 10, 0, orders);
      }
      expect(r.alerts).toHaveLength(0);
      for (let s = 0; s < 10; s++) await r.second(w, 1, 9, orders);
      expect(r.alerts).toHaveLength(1);
      expect(r.alerts[0].namespace).toBe('orders');
    } finally {
      w.stop();
      await r.cache.close();
    }
  });

  test('a throwing callback does not stop the watch', async () => {
    const cache = new Cache({ prefix: 'alert-throw' });
    let now = 0;
    let calls = 0;
    const w = hitRatioAlert(cache, {
      window: '5s',
      interval: '1s',
      minSamples: 5,
      clock: () => now,
      onAlert: () => {
        calls++;
        throw new Error('pager down');
      },
    });
    try {
      for (let s = 0; s < 5; s++) {
        for (let i = 0; i < 10; i++) await cache.get(`m${s}-${i}`);
        now += 1000;
        expect(() => w.check()).not.toThrow();
      }
      expect(calls).toBe(1);
      expect(w.check().alerting).toBe(true);
    } finally {
      w.stop();
      await cache.close();
    }
  });

  describe('on its own timer (fake timers)', () => {
    beforeEach(() => jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
    afterEach(() => jest.useRealTimers());

    test('checks every interval until stopped', async () => {
      const cache = new Cache({ prefix: 'alert-timer' });
      const alerts: HitRatioAlertInfo[] = [];
      const recoveries: HitRatioRecoveryInfo[] = [];
      // Defaults: a 5 min window checked every 30 s, 100 lookups, below 0.8.
      const w = hitRatioAlert(cache, {
        onAlert: (a) => alerts.push(a),
        onRecover: (x) => recoveries.push(x),
      });
      try {
        for (let i = 0; i < 200; i++) await cache.get(`m${i}`);
        jest.advanceTimersByTime(29_000);
        expect(alerts).toHaveLength(0);
        jest.advanceTimersByTime(1_000);
        expect(alerts).toHaveLength(1);
        expect(alerts[0]).toMatchObject({ reason: 'below', ratio: 0, windowMs: 300_000, misses: 200 });
        w.stop();
        await cache.getOrLoad('hot', () => 1);
        for (let i = 0; i < 10_000; i++) await cache.getOrLoad('hot', () => 1);
        jest.advanceTimersByTime(600_000);
        expect(recoveries).toHaveLength(0);
      } finally {
        w.stop();
        await cache.close();
      }
    });
  });

  test('bad options are CacheConfigErrors naming the option', async () => {
    const cache = new Cache({ prefix: 'alert-bad' });
    const onAlert = () => {};
    expect(() => hitRatioAlert(cache, {} as HitRatioAlertOptions)).toThrow(/"onAlert"/);
    expect(() => hitRatioAlert(cache, { onAlert, below: 1.5 })).toThrow(/"below"/);
    expect(() => hitRatioAlert(cache, { onAlert, below: false })).toThrow(CacheConfigError);
    expect(() => hitRatioAlert(cache, { onAlert, dropBy: -0.1 })).toThrow(/"dropBy"/);
    expect(() => hitRatioAlert(cache, { onAlert, window: '1m', interval: '2m' })).toThrow(/"interval"/);
    expect(() => hitRatioAlert(cache, { onAlert, window: 'a while' })).toThrow(/"window"/);
    expect(() => hitRatioAlert(cache, { onAlert, minSamples: 0 })).toThrow(/"minSamples"/);
    expect(() => hitRatioAlert(cache, { onAlert, namespace: '' })).toThrow(/"namespace"/);
    // A short window brings its own interval.
    hitRatioAlert(cache, { onAlert, window: 500 }).stop();
    await cache.close();
  });
});
