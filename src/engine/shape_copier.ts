import { cloneValue } from './clone';
import { READONLY_DATE_PROTO } from './readonly_date';

/*
 * Why generated copiers: the copy on every L1 hit was two thirds of a default-mode hit.
 * A value in L1 is private and never changes, so its shape is fixed for as long as it is
 * cached: a function compiled for exactly that shape (object literals with the same keys,
 * `slice()` for arrays of primitives, `new Date` for dates) copies it several times faster
 * than a generic walk (bench/clone.ts prints the ratio). Copiers are compiled once per shape and
 * shared by every entry of that shape; values too large, too deep or too irregular fall back
 * to the generic `cloneValue`.
 *
 * Safety: property names reach the generated source only through JSON.stringify, as quoted
 * member names; values never reach it. Objects with an own `__proto__` key are not compiled.
 */

/** Copies a value of one fixed shape. */
export type Copier = (value: any) => any;

const identity: Copier = (v) => v;
const generic: Copier = cloneValue;

const MAX_NODES = 4000;
const MAX_DEPTH = 6;
const MAX_SHAPES = 1000;

const copiers = new Map<string, Copier>();
// Weak, so that classes created at run time can still be collected.
const protoIds = new WeakMap<object, number>();
let nextProtoId = 0;

/** Walk state while describing one value's shape. */
interface Walk {
  nodes: number;
}

/**
 * The copier of an L1 entry filled by a load or a write, until its first hit: it works out the
 * real copier then and keeps it on the entry (called as `entry.copy(entry.value)`). Working out
 * a copier walks the whole value, and an entry replaced before anyone reads it (a row saved
 * again and again, write-behind's common case) need never pay for that.
 */
export function copyOnFirstHit(this: { copy: Copier }, value: unknown): unknown {
  const c = copierFor(value);
  this.copy = c;
  return c(value);
}

/** Returns a copier for `value`: compiled for its shape when possible, generic otherwise. */
export function copierFor(value: unknown): Copier {
  if (typeof value !== 'object' || value === null) return identity;
  const walk: Walk = { nodes: 0 };
  const sig = signature(value, 0, walk);
  if (sig === undefined || sig === 'g') return generic;
  let c = copiers.get(sig);
  if (c !== undefined) return c;
  if (copiers.size >= MAX_SHAPES) return generic;
  c = compile(value);
  copiers.set(sig, c);
  return c;
}

/**
 * A string that is equal for two values exactly when one compiled copier copies both:
 * same keys in the same order, same kind of value under each key.
 */
function signature(v: unknown, depth: number, walk: Walk): string | undefined {
  if (++walk.nodes > MAX_NODES || depth > MAX_DEPTH) return undefined;
  if (typeof v !== 'object' || v === null) return 'p';
  if (Array.isArray(v)) {
    if (v.length === 0) return 'a[]';
    let allPrim = true;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'object' && x !== null) {
        allPrim = false;
        break;
      }
    }
    // Arrays of primitives copy with slice() whatever their length, so length is not in the signature.
    if (allPrim) return 'ap';
    // Arrays of objects of one shape (a list of entities) copy with map(); mixed ones go generic.
    const first = signature(v[0], depth + 1, walk);
    if (first === undefined || first === 'p' || first === 'g') return 'g';
    for (let i = 1; i < v.length; i++) if (signature(v[i], depth + 1, walk) !== first) return 'g';
    return `a(${first})`;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Date.prototype) return 'd';
  // A read-only Date (readonly_date.ts) is shared, not copied.
  if (proto === READONLY_DATE_PROTO) return 'D';
  if (proto !== Object.prototype) {
    if (
      v instanceof Date ||
      v instanceof Map ||
      v instanceof Set ||
      ArrayBuffer.isView(v) ||
      v instanceof ArrayBuffer
    )
      return 'g';
    if (proto === null) return 'g';
  }
  const keys = Object.keys(v);
  let s = proto === Object.prototype ? '{' : `c${protoId(proto)}{`;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (k === '__proto__') return undefined;
    const inner = signature((v as Record<string, unknown>)[k], depth + 1, walk);
    if (inner === undefined) return undefined;
    s += JSON.stringify(k) + ':' + inner + ',';
  }
  return s + '}';
}

function protoId(proto: object): number {
  let id = protoIds.get(proto);
  if (id === undefined) {
    id = nextProtoId++;
    protoIds.set(proto, id);
  }
  return id;
}

/** Compiles a copier for `value`'s shape. */
function compile(value: object): Copier {
  const deps: unknown[] = [];
  const expr = emit(value, 'o', deps);
  const names = deps.map((_, i) => `d${i}`);
  const factory = new Function(...names, `return function copy(o) { return ${expr}; };`) as (
    ...d: unknown[]
  ) => Copier;
  return factory(...deps);
}

/** Source of an expression copying the value found at `src`, for the shape `v` has. */
function emit(v: unknown, src: string, deps: unknown[], depth = 0): string {
  if (typeof v !== 'object' || v === null) return src;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    const sig = signature(v, 0, { nodes: 0 });
    if (sig === 'ap') return `${src}.slice()`;
    if (sig === undefined || sig === 'g') return dep(deps, generic, src);
    const e = `e${depth}`;
    return `${src}.map((${e}) => (${emit(v[0], e, deps, depth + 1)}))`;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Date.prototype) return `new Date(${src}.getTime())`;
  if (proto === READONLY_DATE_PROTO) return src;
  if (
    proto !== Object.prototype &&
    (proto === null ||
      v instanceof Date ||
      v instanceof Map ||
      v instanceof Set ||
      ArrayBuffer.isView(v) ||
      v instanceof ArrayBuffer)
  ) {
    return dep(deps, generic, src);
  }
  const keys = Object.keys(v);
  const fields = keys.map((k) => {
    const q = JSON.stringify(k);
    return `${q}: ${emit((v as Record<string, unknown>)[k], `${src}[${q}]`, deps, depth + 1)}`;
  });
  const literal = `{ ${fields.join(', ')} }`;
  if (proto === Object.prototype) return literal;
  // Class instances keep their prototype; no constructor runs.
  const p = deps.push(proto) - 1;
  return `Object.assign(Object.create(d${p}), ${literal})`;
}

function dep(deps: unknown[], fn: Copier, src: string): string {
  const i = deps.push(fn) - 1;
  return `d${i}(${src})`;
}
