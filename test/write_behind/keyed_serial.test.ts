import { KeyedSerial } from '../../src/write_behind/keyed_serial';

/** A task that resolves (or rejects) when told to, recording when it started. */
function gate(log: string[], name: string) {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const task = () => {
    log.push(`start ${name}`);
    return new Promise<string>((resolve, reject) => {
      open = () => resolve(name);
      fail = reject;
    });
  };
  return { task, open: () => open(), fail: (e: Error) => fail(e) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedSerial', () => {
  test('tasks of one key run one after the other, keys run side by side', async () => {
    const s = new KeyedSerial();
    const log: string[] = [];
    const a1 = gate(log, 'a1');
    const a2 = gate(log, 'a2');
    const b1 = gate(log, 'b1');
    const r1 = s.run('a', a1.task);
    const r2 = s.run('a', a2.task);
    const r3 = s.run('b', b1.task);
    await tick();
    expect(log).toEqual(['start a1', 'start b1']);
    a1.open();
    await expect(r1).resolves.toBe('a1');
    await tick();
    expect(log).toEqual(['start a1', 'start b1', 'start a2']);
    a2.open();
    b1.open();
    await expect(r2).resolves.toBe('a2');
    await expect(r3).resolves.toBe('b1');
  });

  test('a failed task is reported to its caller only, and the next one runs', async () => {
    const s = new KeyedSerial();
    const log: string[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const bad = gate(log, 'bad');
      const next = gate(log, 'next');
      const r1 = s.run('k', bad.task);
      const r2 = s.run('k', next.task);
      await tick();
      bad.fail(new Error('boom'));
      await expect(r1).rejects.toThrow('boom');
      await tick();
      expect(log).toEqual(['start bad', 'start next']);
      next.open();
      await expect(r2).resolves.toBe('next');
      await tick();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('idle() waits for the tasks queued before it, failed ones included, then nothing is left', async () => {
    const s = new KeyedSerial();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const ra = s.run('a', a.task);
    const rb = s.run('b', b.task);
    rb.catch(() => {});
    let idle = false;
    const waiting = s.idle().then(() => (idle = true));
    await tick();
    a.open();
    await ra;
    await tick();
    expect(idle).toBe(false);
    b.fail(new Error('no'));
    await waiting;
    expect(idle).toBe(true);
    // Settled keys are forgotten: a new task starts at once, and idle() has nothing to wait for.
    const c = gate(log, 'c');
    const rc = s.run('a', c.task);
    expect(log[log.length - 1]).toBe('start c');
    c.open();
    await rc;
    await tick();
    await expect(s.idle()).resolves.toBeUndefined();
    expect((s as unknown as { tails: Map<string, unknown> }).tails.size).toBe(0);
  });
});
