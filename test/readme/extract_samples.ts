/**
 * The README's code samples, as programs: every ```ts block, with the setup an HTML comment
 * just before it may give (`<!-- sample-setup … -->`: code the reader need not see, such as an
 * entity the sample uses). Imports are hoisted; the rest runs inside an async `main`, so samples
 * can use top-level `await` as readers write it.
 */
export interface ReadmeSample {
  /** 1-based line of the opening fence, for messages. */
  line: number;
  /** The nearest heading above it. */
  heading: string;
  /** The program to compile and run. */
  source: string;
}

const SETUP = /<!--\s*sample-setup\s*\n([\s\S]*?)-->\s*$/;

/** Extracts the samples of `markdown`; `cachekit` imports are pointed at `srcDir`. */
export function extractSamples(markdown: string, srcDir: string): ReadmeSample[] {
  const lines = markdown.split('\n');
  const out: ReadmeSample[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (/^#{1,6} /.test(l)) heading = l.replace(/^#+ /, '');
    if (l.trim() !== '```ts') continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i].trim() !== '```'; i++) body.push(lines[i]);
    const before = lines.slice(Math.max(0, start - 60), start).join('\n');
    const setup = SETUP.exec(before)?.[1] ?? '';
    out.push({ line: start + 1, heading, source: program(setup, body.join('\n'), srcDir) });
  }
  return out;
}

function program(setup: string, sample: string, srcDir: string): string {
  const imports: string[] = [];
  const body: string[] = [];
  for (const part of [setup, sample]) {
    // An import statement may span lines: collect until its closing quote and semicolon.
    const ls = part.split('\n');
    for (let i = 0; i < ls.length; i++) {
      if (/^import\b/.test(ls[i])) {
        let stmt = ls[i];
        while (!/from\s+['"][^'"]+['"];?\s*$|^import\s+['"][^'"]+['"];?\s*$/.test(stmt) && i + 1 < ls.length)
          stmt += '\n' + ls[++i];
        imports.push(stmt);
      } else {
        body.push(ls[i]);
      }
    }
  }
  const rewritten = imports.map((s) =>
    s.replace(
      /(['"])cachekit(\/[\w-]+)?\1/g,
      (_m, q: string, sub: string | undefined) => `${q}${srcDir}${sub ?? ''}${q}`,
    ),
  );
  return [
    "import 'reflect-metadata';",
    ...rewritten,
    '',
    'async function main(): Promise<void> {',
    ...body.map((l) => (l === '' ? l : '  ' + l)),
    '}',
    '',
    // A sample that leaves a connection open must still end: the test judges what it printed and threw.
    'main().then(',
    '  () => process.exit(0),',
    '  (err) => {',
    '    console.error(err);',
    '    process.exit(1);',
    '  },',
    ');',
    '',
  ].join('\n');
}
