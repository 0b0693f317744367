import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { Cacheable, type Cache } from '../../src';
import { openStack, type StackHandle, type StackKind } from '../support/stacks';

/*
 * An invalid Date is a documented round-trip value, but Jest compares Dates by `+a == +b`, and
 * NaN equals nothing: two invalid Dates would never be "equal", and any run that generated one
 * failed. Dates here are equal when their times are the same number, NaN included.
 */
type EqualityTester = (a: unknown, b: unknown) => boolean | undefined;
// Jest 30 has it; the @types/jest in use predates it.
(expect as unknown as { addEqualityTesters(testers: EqualityTester[]): void }).addEqualityTesters([
  (a, b) => (a instanceof Date && b instanceof Date ? Object.is(a.getTime(), b.getTime()) : undefined),
]);

/** Enough runs to find a collision in the encodings, few enough to keep the suite quick. */
const RUNS = { numRuns: 150 } as const;

/** Strings mixing glob and separator characters, control characters, lone surrogates and astral characters. */
const hostileChar = fc.oneof(
  fc.constantFrom(
    '*',
    '?',
    '[',
    ']',
    ':',
    ',',
    '"',
    '#',
    '\\',
    '\n',
    '\0',
    '\x1f',
    '{',
    '-',
    '0',
    '\ud83d\udd11',
  ),
  // Few distinct lone surrogates (and U+FFFD), so that keys differing only there come up often.
  fc.constantFrom('\ud800', '\udbff', '\udc00', '\ufffd'),
  fc.string({ unit: 'binary', maxLength: 1 }),
);
const hostileString = fc.string({ unit: hostileChar, maxLength: 12 });

/** What a method argument may be: primitives and small nested lists and objects of them (no -0: documented to equal 0). */
const arg: fc.Arbitrary<unknown> = fc.letrec<{ arg: unknown }>((tie) => ({
  arg: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    fc.integer().map((n) => n + 0),
    fc.bigInt(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('arg'), { maxLength: 3 }),
    fc.dictionary(hostileString, tie('arg'), { maxKeys: 3, noNullPrototype: true }),
  ),
})).arg;
const argList = fc.array(arg, { minLength: 1, maxLength: 4 });
/** A cache key: an argument list or a string (documented to be the same key as the one-string list). */
const cacheKey = fc.oneof(
  argList,
  fc.string({ unit: hostileChar, minLength: 1, maxLength: 8 }).filter((s) => s !== ''),
);
/** The argument list a key stands for, to tell keys that must differ. */
const asList = (k: unknown[] | string): unknown[] => (typeof k === 'string' ? [k] : k);

/** The documented round-trip types: JSON plus undefined, NaN, ±Infinity, BigInt, Date (valid or not), Map, Set, Buffer. */
const value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    // -0 comes back from L2 as 0 (documented); + 0 turns it into 0 wherever a shrinker makes it.
    fc.double().map((n) => n + 0),
    fc.integer().map((n) => n + 0),
    fc.bigInt(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.date(),
    fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileString, tie('value'), { maxKeys: 4, noNullPrototype: true }),
    fc.array(fc.tuple(hostileString, tie('value')), { maxLength: 3 }).map((e) => new Map(e)),
    fc
      .array(
        fc.oneof(
          hostileString,
          fc.integer().map((n) => n + 0),
        ),
        { maxLength: 3 },
      )
      .map((e) => new Set(e)),
  ),
})).value;

/** A tag name: anything non-empty and well-formed, without line breaks or \x1f (the documented rule). */
const tagName = fc
  .string({ unit: hostileChar, minLength: 1, maxLength: 10 })
  .filter(
    (t) =>
      t !== '' &&
      !['\n', '\r', '\x1f'].some((c) => t.includes(c)) &&
      (t as unknown as { isWellFormed(): boolean }).isWellFormed(),
  );

describe.each<StackKind>(['memory', 'redis', 'l1+redis'])('properties (%s)', (kind) => {
  let stack: StackHandle;
  let cache: Cache;
  let reader: Cache;
  beforeAll(async () => {
    stack = await openStack(kind, 'props');
    cache = stack.makeCache({ negativeTtl: '5m' });
    // Through L2 alone, when there is one: what another instance would read.
    reader = stack.hasL2 ? stack.makeCache({ l1: false, negativeTtl: '5m' }) : cache;
  });
  afterAll(() => stack.cleanup());

  let run = 0;
  /** A namespace per run, so that runs never see each other's entries. */
  const fresh = (c: Cache) => c.namespace(`r${run}`);

  test('round trip: set then get returns a deep-equal value', async () => {
    await fc.assert(
      fc.asyncProperty(cacheKey, value, async (key, v) => {
        run++;
        expect(await fresh(cache).set(key, v)).toBe(true);
        for (const c of [cache, reader]) {
          const hit = await fresh(c).getEntry(key);
          expect(hit).toBeDefined();
          expect(hit!.value).toEqual(v);
        }
      }),
      RUNS,
    );
  });

  test('isolation: writing and deleting one key never changes another', async () => {
    await fc.assert(
      fc.asyncProperty(cacheKey, cacheKey, async (a, b) => {
        fc.pre(!isDeepStrictEqual(asList(a), asList(b)));
        run++;
        const ns = fresh(cache);
        await ns.set(b, 'b');
        await ns.set(a, 'a');
        await ns.delete(a);
        expect(await fresh(reader).get(b)).toBe('b');
        expect(await ns.get(b)).toBe('b');
        expect(await ns.get(a)).toBeUndefined();
      }),
      RUNS,
    );
  });

  test('decorated methods: generated arguments give the uncached result, distinct arguments never share an entry', async () => {
    let runs = 0;
    class Echo {
      cache = cache;
      @Cacheable({ ttl: '5m' })
      async echo(...args: unknown[]) {
        runs++;
        return { args };
      }
    }
    const echo = new Echo();
    await fc.assert(
      fc.asyncProperty(argList, argList, async (a, b) => {
        fc.pre(!isDeepStrictEqual(a, b));
        expect(await echo.echo(...a)).toEqual({ args: a });
        expect(await echo.echo(...b)).toEqual({ args: b });
        const before = runs;
        expect(await echo.echo(...a)).toEqual({ args: a });
        expect(runs).toBe(before);
      }),
      RUNS,
    );
  });

  test('tag isolation: invalidating one generated tag never drops an entry of another', async () => {
    await fc.assert(
      fc.asyncProperty(tagName, tagName, async (a, b) => {
        fc.pre(a !== b);
        run++;
        const ns = fresh(cache);
        await ns.getOrLoad('a', async () => 'a', { tags: [a] });
        await ns.getOrLoad('b', async () => 'b', { tags: [b] });
        await ns.invalidateTags([a]);
        for (const c of [ns, fresh(reader)]) {
          expect(await c.get('a')).toBeUndefined();
          expect(await c.get('b')).toBe('b');
        }
      }),
      RUNS,
    );
  });
});
