import { FlightMap } from '../../src/engine/flight_map';

describe('FlightMap', () => {
  test('a flight is found by its key until it settles', () => {
    const m = new FlightMap<Promise<number>>();
    const p = Promise.resolve(1);
    expect(m.get('k')).toBeUndefined();
    m.set('k', p);
    expect(m.get('k')).toBe(p);
    expect(m.size).toBe(1);
    m.settle('k', p);
    expect(m.get('k')).toBeUndefined();
    expect(m.size).toBe(0);
  });

  test('settling an older flight leaves the newer one of the key in place', () => {
    const m = new FlightMap<object>();
    const older = {};
    const newer = {};
    m.set('k', older);
    m.set('k', newer);
    m.settle('k', older);
    expect(m.get('k')).toBe(newer);
    m.settle('k', newer);
    expect(m.get('k')).toBeUndefined();
    m.settle('k', newer); // twice: nothing to do
    expect(m.size).toBe(0);
  });

  test('values() lists what is in flight, across keys', () => {
    const m = new FlightMap<string>();
    m.set('a', 'A');
    m.set('b', 'B');
    m.set('c', 'C');
    m.settle('b', 'B');
    expect(m.values().sort()).toEqual(['A', 'C']);
  });
});
