import { CacheReadonlyError } from '../errors';

/*
 * Why Dates are shared rather than copied on an L1 hit: on Node 20 `new Date(t)` is a call into
 * C++ that costs about 45 ns, three times as much as copying every other field of a typical
 * 500-byte entity (bench/l1_hit.ts). A Date in a cached value is instead made read-only once,
 * when the value enters L1, by giving it a prototype whose setters throw; every hit can then
 * hand out the same instance. It stays a real Date: `instanceof Date`, `constructor === Date`,
 * `util.types.isDate`, JSON, structuredClone, deep-equality checks and the serializers all see
 * an ordinary Date. Only a setter called through the instance is refused, loudly; calling
 * `Date.prototype.setTime.call(d, ...)` directly would still get through, which is documented.
 */

const MUTATORS = [
  'setDate',
  'setFullYear',
  'setHours',
  'setMilliseconds',
  'setMinutes',
  'setMonth',
  'setSeconds',
  'setTime',
  'setUTCDate',
  'setUTCFullYear',
  'setUTCHours',
  'setUTCMilliseconds',
  'setUTCMinutes',
  'setUTCMonth',
  'setUTCSeconds',
  'setYear',
] as const;

/** The prototype of read-only Dates: Date.prototype with every setter replaced by a throw. */
export const READONLY_DATE_PROTO: object = Object.create(Date.prototype);
for (const m of MUTATORS) {
  Object.defineProperty(READONLY_DATE_PROTO, m, {
    value: function refuse(): never {
      throw new CacheReadonlyError(m);
    },
    writable: false,
    enumerable: false,
    configurable: false,
  });
}
Object.freeze(READONLY_DATE_PROTO);

/** Whether `d` is a Date that `freezeDates` made read-only. */
export function isReadonlyDate(d: unknown): d is Date {
  return typeof d === 'object' && d !== null && Object.getPrototypeOf(d) === READONLY_DATE_PROTO;
}

/**
 * Makes every Date inside `value` read-only, in place. Called once when a private value enters
 * L1 (never on a hit). The walk follows what the L1 copiers copy: arrays, plain objects, class
 * instances, Maps and Sets; cached values have been through the serializer, so they hold no cycles.
 */
export function freezeDates(value: unknown): void {
  if (typeof value === 'object' && value !== null) walk(value, 0);
}

// Deeper than any value the serializer accepts; a guard, not a limit anyone should reach.
const MAX_DEPTH = 1000;

function walk(o: object, depth: number): void {
  if (depth > MAX_DEPTH) return;
  if (Array.isArray(o)) {
    for (let i = 0; i < o.length; i++) {
      const v: unknown = o[i];
      if (typeof v === 'object' && v !== null) walk(v, depth + 1);
    }
    return;
  }
  const proto = Object.getPrototypeOf(o);
  if (proto === Date.prototype) {
    Object.setPrototypeOf(o, READONLY_DATE_PROTO);
    return;
  }
  if (proto === READONLY_DATE_PROTO || ArrayBuffer.isView(o) || o instanceof ArrayBuffer) return;
  if (o instanceof Map) {
    for (const [k, v] of o) {
      if (typeof k === 'object' && k !== null) walk(k, depth + 1);
      if (typeof v === 'object' && v !== null) walk(v, depth + 1);
    }
    return;
  }
  if (o instanceof Set) {
    for (const v of o) if (typeof v === 'object' && v !== null) walk(v, depth + 1);
    return;
  }
  for (const k of Object.keys(o)) {
    const v: unknown = (o as Record<string, unknown>)[k];
    if (typeof v === 'object' && v !== null) walk(v, depth + 1);
  }
}
