import { jsonSerializer } from '../engine/serializer';

/** A call recorded for replay, decoded. */
export interface ReplayCall {
  /** The receiver's class name (the class itself for a static method). */
  readonly className: string;
  readonly method: string;
  readonly args: unknown[];
}

/** Deeper argument values are not recorded: real keys are shallow, and the walk must stay cheap. */
const MAX_DEPTH = 16;

/**
 * The stored form of a call, or `undefined` when its arguments cannot be replayed or their
 * encoding is longer than `maxBytes`. Replayable means the call can be rebuilt exactly from
 * text: strings, numbers, booleans, null, undefined, bigints, Dates, and plain arrays and
 * objects of those. A class instance would come back as a plain object without its methods,
 * and a function or a stream not at all, so a call holding one is refused rather than replayed
 * with different arguments.
 */
export function encodeCall(
  className: string,
  method: string,
  args: readonly unknown[],
  maxBytes: number,
): string | undefined {
  if (!replayable(args, 0)) return undefined;
  // The engine's tagged JSON brings Dates, bigints and undefined back as they went in.
  const text = jsonSerializer.encode([className, method, args]).toString('utf8');
  return Buffer.byteLength(text) <= maxBytes ? text : undefined;
}

/** Decodes a stored call; `undefined` for anything that is not one (a foreign or tampered member). */
export function decodeCall(member: string): ReplayCall | undefined {
  let v: unknown;
  try {
    v = jsonSerializer.decode(Buffer.from(member, 'utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 3) return undefined;
  const [className, method, args] = v as unknown[];
  if (typeof className !== 'string' || typeof method !== 'string' || !Array.isArray(args)) return undefined;
  return { className, method, args };
}

function replayable(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
      return true;
    case 'object': {
      if (v === null) return true;
      if (depth >= MAX_DEPTH) return false;
      const proto = Object.getPrototypeOf(v);
      if (proto === Date.prototype) return true;
      if (proto === Array.prototype) {
        const a = v as unknown[];
        for (let i = 0; i < a.length; i++) if (!replayable(a[i], depth + 1)) return false;
        return true;
      }
      if (proto !== Object.prototype && proto !== null) return false;
      // Symbol keys would be dropped by the encoding: the replayed call would differ.
      if (Object.getOwnPropertySymbols(v).length > 0) return false;
      for (const k of Object.keys(v))
        if (!replayable((v as Record<string, unknown>)[k], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}
