import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/*
 * No Redis command that takes a glob pattern may exist on the library's paths: a pattern built
 * from a key or tag would let `*` or `[` in user input reach other entries, and KEYS or an
 * unbounded SCAN is a full keyspace walk. The scan reads the syntax tree (so comments that
 * mention KEYS do not count) and looks at three places a pattern command can hide: client
 * method calls, generic command calls (`call('KEYS', …)`), and Lua script text.
 */

/** ioredis (and Keyv) methods that match keys or channels by pattern, or walk/drop the keyspace. */
const PATTERN_METHODS = new Set(
  [
    'keys',
    'scan',
    'scanStream',
    'scanBuffer',
    'sscan',
    'sscanStream',
    'hscan',
    'hscanStream',
    'zscan',
    'zscanStream',
    'psubscribe',
    'punsubscribe',
    'pubsub',
    'flushdb',
    'flushall',
    'iterator',
    'clear',
  ].map((m) => m.toLowerCase()),
);
/** Command names that, given as a string to a generic call or inside Lua, do the same. */
const PATTERN_COMMANDS = /^(keys|scan|sscan|hscan|zscan|psubscribe|punsubscribe|pubsub|flushdb|flushall)$/i;
const GENERIC_CALLS = new Set(['call', 'callbuffer', 'send_command', 'sendcommand', 'command']);
const LUA_CALL = /redis\.p?call\(\s*['"](keys|scan|sscan|hscan|zscan|flushdb|flushall)['"]/i;

/** The receivers of `keys`/`clear`/`iterator` that are Redis or Keyv; a Map's or an LRU cache's are fine. */
const STORE_RECEIVER = /(redis|client|keyv|store|conn|sub|pub)\w*$/i;

interface Finding {
  file: string;
  line: number;
  what: string;
}

/** Every pattern-command use in `source`. */
export function findPatternCommands(file: string, source: string): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: Finding[] = [];
  const at = (node: ts.Node, what: string) =>
    out.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, what });
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const callee = node.expression;
      const name = ts.isPropertyAccessExpression(callee)
        ? callee.name.text
        : ts.isElementAccessExpression(callee) && ts.isStringLiteralLike(callee.argumentExpression)
          ? callee.argumentExpression.text
          : ts.isIdentifier(callee)
            ? callee.text
            : undefined;
      const receiver =
        ts.isPropertyAccessExpression(callee) || ts.isElementAccessExpression(callee)
          ? callee.expression.getText(sf)
          : '';
      const lower = name?.toLowerCase();
      if (lower !== undefined && PATTERN_METHODS.has(lower)) {
        // keys/clear/iterator are also Map, Set and Object methods: those take no pattern.
        const generic = lower === 'clear' || lower === 'iterator' || lower === 'keys';
        const withPattern = lower === 'keys' && (node.arguments?.length ?? 0) > 0 && receiver !== 'Object';
        if (!generic || withPattern || STORE_RECEIVER.test(receiver)) at(node, `${receiver}.${name}(…)`);
      }
      const first = node.arguments?.[0];
      if (
        lower !== undefined &&
        (GENERIC_CALLS.has(lower) || lower === 'command') &&
        first !== undefined &&
        ts.isStringLiteralLike(first) &&
        PATTERN_COMMANDS.test(first.text)
      ) {
        at(node, `${name}('${first.text}', …)`);
      }
    }
    if (ts.isStringLiteralLike(node) || ts.isTemplateExpression(node)) {
      const text = ts.isTemplateExpression(node) ? node.getText(sf) : node.text;
      const m = LUA_CALL.exec(text);
      if (m) at(node, `Lua redis.call('${m[1]}')`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const SRC = join(__dirname, '../../src');

describe('no Redis pattern command on library paths', () => {
  test('the scanner finds every form of pattern command it looks for', () => {
    const samples: [string, string][] = [
      ['client.keys(`${prefix}:*`)', 'client.keys'],
      ['await this.redis.scan(0, "MATCH", userKey + "*")', 'this.redis.scan'],
      ['const s = client.scanStream({ match: tag })', 'client.scanStream'],
      ['sub.psubscribe(`${channel}*`)', 'sub.psubscribe'],
      ["client.call('KEYS', pattern)", "call('KEYS'"],
      ["client.send_command('scan', ['0'])", "send_command('scan'"],
      ["const LUA = `local ks = redis.call('KEYS', ARGV[1])`", "redis.call('KEYS')"],
      ['const LUA = "return redis.pcall(\'scan\', 0)"', "redis.call('scan')"],
      ['await this.keyv.clear()', 'this.keyv.clear'],
      ['for await (const e of keyv.iterator()) {}', 'keyv.iterator'],
      ['client["flushdb"]()', 'client.flushdb'],
      ['const names = await conn.keys(match)', 'conn.keys'],
      ['const names = await this.cacheRedis.keys()', 'this.cacheRedis.keys'],
    ];
    for (const [code, what] of samples) {
      const found = findPatternCommands('sample.ts', code);
      expect([code, found.map((f) => f.what).join(' | ')]).toEqual([code, expect.stringContaining(what)]);
    }
    // Not flagged: comments, ordinary commands, clearing an in-process map.
    const benign = [
      '// never KEYS or SCAN: redis.call(\'KEYS\', "*")',
      "client.mgetBuffer(...keys); client.call('GET', key)",
      'this.l1.clear(); pending.clear(); Object.keys(obj); this.policies.keys()',
    ];
    for (const code of benign) expect(findPatternCommands('benign.ts', code)).toEqual([]);
  });

  test('src/ holds no pattern command (the scan reads every source file, Lua scripts included)', () => {
    const files = sourceFiles(SRC);
    // The scan must reach the Redis code, or an empty result would mean nothing.
    const rel = files.map((f) => relative(SRC, f));
    expect(rel).toEqual(
      expect.arrayContaining(['redis/redis_store.ts', 'redis/scripts.ts', 'keyv/keyv_store.ts']),
    );
    expect(readFileSync(join(SRC, 'redis/scripts.ts'), 'utf8')).toMatch(/redis\.call\(/);
    const findings = files.flatMap((f) => findPatternCommands(relative(SRC, f), readFileSync(f, 'utf8')));
    expect(findings).toEqual([]);
  });
});
