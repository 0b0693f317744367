import type { Cache, CacheKey } from '../../src';
import { CacheConfigError } from '../../src';
import { openStack, type StackHandle, type StackKind } from '../support/stacks';

/** Keys chosen to break naive encodings: glob metacharacters, separators, control characters, size, unicode. */
const HOSTILE_KEYS: [string, CacheKey][] = [
  ['star', '*'],
  ['a-star', 'a*'],
  ['question', '?'],
  ['bracket class', '[a-z]'],
  ['colon', ':'],
  ['a:b string', 'a:b'],
  ['a:b nested in a list', [['a:b']]],
  ['the encoding of that list as a string', '["a:b"]'],
  ['a, b as two args', ['a', 'b']],
  ['the encoding of [a, b] as a string', '["a","b"]'],
  ['a: then b', ['a:', 'b']],
  ['a then :b', ['a', ':b']],
  ['newline', '\n'],
  ['a newline b', 'a\nb'],
  ['CRLF', 'a\r\nb'],
  ['NUL', '\0'],
  ['a NUL b', 'a\0b'],
  ['NUL in a second arg', ['a', '\0b']],
  ['10 kB', 'k'.repeat(10_240)],
  ['10 kB plus one', 'k'.repeat(10_241)],
  ['10 kB of stars', '*'.repeat(10_240)],
  ['cyrillic', 'ключ'],
  ['emoji', '🔑'],
  ['NFC é', 'caf\u00e9'],
  ['NFD é', 'cafe\u0301'],
  ['lone high surrogate', '\ud800'],
  ['other lone high surrogate', '\udbff'],
  ['lone low surrogate', '\udc00'],
  ['replacement character', '\ufffd'],
  ['lone surrogates in two args', ['\ud800', '\udc00']],
  ['a surrogate pair across two args', ['\ud800\udc00']],
  ['number 1', [1]],
  ['string "1" at top level', '1'],
  ['the encoding of [true] as a string', '#true'],
  ['true', [true]],
  ['the encoding of ["a", "b"] as a string', '"a","b"'],
  ['a string that looks hashed', 'x'.repeat(20) + '#' + 'A'.repeat(43)],
];

const STACKS: StackKind[] = ['memory', 'l1+redis', 'redis', 'keyv'];

describe.each(STACKS)('hostile keys and tags stay confined (%s)', (kind) => {
  let stack: StackHandle;
  beforeAll(async () => {
    stack = await openStack(kind, 'hostile');
  });
  afterAll(() => stack.cleanup());

  /** A cache reading what `writer` stored through L2 only, when there is an L2. */
  function readers(writer: Cache): Cache[] {
    return stack.hasL2 ? [writer, stack.makeCache({ l1: false })] : [writer];
  }

  test('every hostile key reads back its own value, in L1 and through L2', async () => {
    const cache = stack.makeCache();
    for (const [i, [, key]] of HOSTILE_KEYS.entries()) expect(await cache.set(key, `value ${i}`)).toBe(true);
    for (const reader of readers(cache)) {
      const got = [];
      for (const [, key] of HOSTILE_KEYS) got.push(await reader.get(key));
      expect(got).toEqual(HOSTILE_KEYS.map((_, i) => `value ${i}`));
    }
  });

  test('writing or deleting one hostile key never changes another', async () => {
    const cache = stack.makeCache();
    const ns = cache.namespace('confine');
    for (const [i, [, key]] of HOSTILE_KEYS.entries()) await ns.set(key, i);
    for (const [i, [, key]] of HOSTILE_KEYS.entries()) {
      await ns.set(key, `overwritten ${i}`);
      await ns.delete(key);
      for (const reader of readers(cache)) {
        const view = reader === cache ? ns : reader.namespace('confine');
        for (const [j, [, other]] of HOSTILE_KEYS.entries()) {
          if (j <= i) continue;
          expect([j, await view.get(other)]).toEqual([j, j]);
        }
      }
    }
  });

  test('a key never reaches another namespace, whatever separators it holds', async () => {
    const cache = stack.makeCache();
    await cache.namespace('a').set('b:c', 'in a');
    await cache.set('a:b:c', 'root');
    await cache.namespace('a').namespace('b').set('c', 'in a.b');
    for (const reader of readers(cache)) {
      expect(await reader.namespace('a').get('b:c')).toBe('in a');
      expect(await reader.get('a:b:c')).toBe('root');
      expect(await reader.namespace('a').namespace('b').get('c')).toBe('in a.b');
      expect(await reader.get(['a', 'b', 'c'])).toBeUndefined();
    }
  });

  test('a one-argument list is the same key as its lone argument (documented), whatever it holds', async () => {
    const cache = stack.makeCache();
    for (const k of ['a:b', 'a\0b', '\ud800', '1', '#true', 'k'.repeat(10_240)]) {
      await cache.set(k, `string ${k.length}`);
      for (const reader of readers(cache)) expect(await reader.get([k])).toBe(`string ${k.length}`);
    }
  });

  const HOSTILE_TAGS = [
    'a',
    'a*',
    'ab',
    '*',
    '?',
    'a?',
    '[ab]',
    'a:b',
    'a:b:*',
    'a\0b',
    'a\0',
    'ключ',
    '🔑',
    'caf\u00e9',
    'cafe\u0301',
    '\ufffd',
    't'.repeat(10_240),
    't'.repeat(10_241),
  ];

  test('invalidating one hostile tag drops only the entries carrying it (a* does not touch ab)', async () => {
    const cache = stack.makeCache();
    const ns = cache.namespace('tags');
    for (const [i, tag] of HOSTILE_TAGS.entries()) {
      await ns.getOrLoad(`k${i}`, async () => `v${i}`, { tags: [tag] });
    }
    for (const [i, tag] of HOSTILE_TAGS.entries()) {
      await ns.invalidateTags([tag]);
      for (const reader of readers(cache)) {
        const view = reader === cache ? ns : reader.namespace('tags');
        const got = [];
        for (let j = 0; j < HOSTILE_TAGS.length; j++) got.push(await view.get(`k${j}`));
        expect(got).toEqual(HOSTILE_TAGS.map((_, j) => (j <= i ? undefined : `v${j}`)));
      }
    }
  });

  // A lone surrogate has no UTF-8 form: stored, '\ud800' and '\udbff' would be one tag.
  test.each(['a\nb', 'a\rb', 'a\x1fb', '', '\ud800', 'a\udc00'])(
    'a tag with a line break, \\x1f, a lone surrogate or nothing is a typed error (%j)',
    async (tag) => {
      const cache = stack.makeCache();
      await expect(cache.invalidateTags([tag])).rejects.toBeInstanceOf(CacheConfigError);
      await expect(cache.getOrLoad('k', async () => 1, { tags: [tag] })).rejects.toBeInstanceOf(
        CacheConfigError,
      );
    },
  );
});

describe('hostile keys across instances (l1+redis)', () => {
  let stack: StackHandle;
  beforeAll(async () => {
    stack = await openStack('l1+redis', 'hostile-bus');
  });
  afterAll(() => stack.cleanup());

  test('another instance drops its L1 copy of exactly the hostile key that was rewritten', async () => {
    const writer = stack.makeCache();
    const other = stack.makeCache();
    const keys = ['\ud800', '\udbff', '\ufffd', 'a\0b', 'a\nb', '*'];
    for (const k of keys) await writer.set(k, 'old');
    for (const k of keys) expect(await other.get(k)).toBe('old');
    await writer.set('\ud800', 'new');
    // The drop travels over the bus: wait for it, bounded.
    for (let i = 0; i < 200 && (await other.get('\ud800')) !== 'new'; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await other.get('\ud800')).toBe('new');
    for (const k of keys.slice(1)) expect(await other.get(k)).toBe('old');
  });
});
