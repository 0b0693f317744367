import type { AnyFunction } from '../tags/naming';
import { CacheConfigError } from '../errors';
import { rowTag, tableTag } from '../tags/naming';

/**
 * A tag given to a decorator: a name; a function of the call's arguments and result; an entity
 * class (its whole table); or `[Entity, (args) => id]` (one row).
 */
export type TagSpec =
  | string
  | ((args: any[], result: any) => string | readonly string[] | undefined)
  | (abstract new (...args: any[]) => unknown)
  | readonly [abstract new (...args: any[]) => unknown, (args: any[]) => unknown];

/** Classes are told from tag functions by their source: `class …`. Arrow functions have none. */
export function isClass(f: unknown): boolean {
  return (
    typeof f === 'function' &&
    f.prototype !== undefined &&
    /^class[\s{]/.test(Function.prototype.toString.call(f))
  );
}

/** Checks tag specs at decoration time, so a mistake fails at start-up, not at the first call. */
export function validateTagSpecs(option: string, specs: readonly TagSpec[]): void {
  specs.forEach((s, i) => {
    const ok =
      (typeof s === 'string' && s !== '') ||
      typeof s === 'function' ||
      (Array.isArray(s) && s.length === 2 && isClass(s[0]) && typeof s[1] === 'function');
    if (!ok) {
      throw new CacheConfigError(
        `${option}[${i}]`,
        s,
        'expected a tag name, a function (args, result) => tags, an entity class, or [Entity, (args) => id]',
      );
    }
  });
}

/** Resolves tag specs for one call into tag names. */
export function resolveTags(specs: readonly TagSpec[], args: any[], result: unknown): string[] {
  const out: string[] = [];
  for (const s of specs) {
    if (typeof s === 'string') out.push(s);
    else if (Array.isArray(s)) out.push(rowTag(s[0], s[1](args)));
    else if (isClass(s)) out.push(tableTag(s as AnyFunction));
    else {
      const r = (s as (a: any[], r: unknown) => string | readonly string[] | undefined)(args, result);
      if (typeof r === 'string') out.push(r);
      else if (Array.isArray(r)) out.push(...r);
    }
  }
  return out;
}
