import { Deadline, DeadlineQueue } from '../../src/engine/deadlines';

describe('DeadlineQueue', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  test('a deadline not settled in time expires once; a settled one never does', () => {
    const q = new DeadlineQueue(100);
    const expired: string[] = [];
    const a = q.add(() => expired.push('a'));
    jest.advanceTimersByTime(40);
    const b = q.add(() => expired.push('b'));
    expect(a.settle()).toBe(true);
    jest.advanceTimersByTime(70); // a's deadline has passed, but a was settled
    expect(expired).toEqual([]);
    jest.advanceTimersByTime(40); // b's has passed
    expect(expired).toEqual(['b']);
    expect(b.settle()).toBe(false);
    jest.advanceTimersByTime(1000);
    expect(expired).toEqual(['b']);
    expect(q.size).toBe(0);
  });

  test('one timer serves every open deadline, and none is left once all are settled', () => {
    const q = new DeadlineQueue(250);
    const ds = Array.from({ length: 1000 }, () => q.add(() => {}));
    expect(jest.getTimerCount()).toBe(1);
    expect(q.size).toBe(1000);
    for (const d of ds) d.settle();
    // Trimming happens on the next add or when the timer fires; either way nothing expires.
    jest.advanceTimersByTime(300);
    expect(jest.getTimerCount()).toBe(0);
    expect(q.size).toBe(0);
  });

  test('deadlines settled out of order still expire on time', () => {
    const q = new DeadlineQueue(100);
    const expired: number[] = [];
    const ds = [0, 1, 2, 3].map((i) => {
      jest.advanceTimersByTime(10);
      return q.add(() => expired.push(i));
    });
    ds[1].settle();
    ds[3].settle();
    // Added at +10, +20, +30, +40: due at +110, +120, +130, +140. Now +40.
    jest.advanceTimersByTime(75); // +115
    expect(expired).toEqual([0]);
    jest.advanceTimersByTime(20); // +135
    expect(expired).toEqual([0, 2]);
    jest.advanceTimersByTime(100);
    expect(expired).toEqual([0, 2]);
  });

  test('a callback that starts a new deadline gets it timed like any other', () => {
    const q = new DeadlineQueue(50);
    const expired: string[] = [];
    q.add(() => {
      expired.push('first');
      q.add(() => expired.push('second'));
    });
    jest.advanceTimersByTime(51);
    expect(expired).toEqual(['first']);
    jest.advanceTimersByTime(51);
    expect(expired).toEqual(['first', 'second']);
  });

  test('clear() stops the timer', () => {
    const q = new DeadlineQueue(50);
    const onExpire = jest.fn();
    q.add(onExpire);
    q.clear();
    jest.advanceTimersByTime(100);
    expect(onExpire).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
  });

  test('a deadline with a timer of its own expires on time, or clears its timer when settled', () => {
    const late = jest.fn();
    Deadline.timed(30, late);
    jest.advanceTimersByTime(29);
    expect(late).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(late).toHaveBeenCalledTimes(1);

    const onTime = jest.fn();
    const d = Deadline.timed(30, onTime);
    expect(d.settle()).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(100);
    expect(onTime).not.toHaveBeenCalled();
  });
});
