import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { sleep } from './services';

/** A child process driven line by line: one command in on stdin, one JSON answer out on stdout. */
export interface LineChild {
  readonly p: ChildProcessWithoutNullStreams;
  /** The next JSON line the child printed (within 20 s, or a failure quoting its stderr). */
  next(): Promise<Record<string, unknown>>;
  /** Sends a command line and returns the answer. */
  ask(cmd: string): Promise<Record<string, unknown>>;
}

/** Starts `script` (a .ts file, run through ts-node from the repository root) with `env` added. */
export function lineChild(script: string, env: NodeJS.ProcessEnv, name = 'the child'): LineChild {
  const p = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', script], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  let err = '';
  let buf = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const next = async (): Promise<Record<string, unknown>> => {
    const end = Date.now() + 20_000;
    while (lines.length === 0) {
      if (Date.now() > end || p.exitCode !== null) throw new Error(`${name} did not answer: ${err}`);
      await sleep(5);
    }
    return JSON.parse(lines.shift()!) as Record<string, unknown>;
  };
  return {
    p,
    next,
    async ask(cmd: string) {
      p.stdin.write(cmd + '\n');
      return next();
    },
  };
}
