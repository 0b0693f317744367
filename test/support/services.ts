import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import Redis from 'ioredis';

/** The shared Redis the suite uses; never flushed, keys are isolated by prefix. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const START_REDIS =
  "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log";

/** Fails loudly, with the command that starts it, when the shared Redis does not answer. */
export async function requireRedis(): Promise<void> {
  const client = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new Error(
      `Redis is not answering at ${REDIS_URL} (${(err as Error).message}). Start it with:\n  ${START_REDIS}`,
      {
        cause: err,
      },
    );
  } finally {
    client.disconnect();
  }
}

let counter = 0;
/** A key prefix no other test (or run) shares. */
export function uniquePrefix(name: string): string {
  return `ckt-${name}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** Deletes every key under a test prefix (test clean-up only: SCAN is fine here, never on a hot path). */
export async function deletePrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await client.del(...keys);
  } while (cursor !== '0');
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A private redis-server that a test may pause, kill or restart without touching the shared one. */
export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** Sends a signal (SIGSTOP / SIGCONT to hang and resume it). */
  signal(sig: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/** Spawns a private redis-server on a free port and waits until it answers. */
export async function startPrivateRedis(extraArgs: string[] = [], onPort?: number): Promise<PrivateRedis> {
  // A fixed port restarts a killed server where its clients will reconnect.
  const port = onPort ?? (await freePort());
  let child: ChildProcess;
  try {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs],
      {
        stdio: 'ignore',
      },
    );
  } catch (err) {
    throw new Error(
      `cannot spawn redis-server (${(err as Error).message}); install it with: apt-get install -y redis-server`,
      {
        cause: err,
      },
    );
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => {});
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      break;
    } catch {
      c.disconnect();
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`private redis-server on port ${port} did not start; is redis-server installed?`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    url,
    signal(sig) {
      child.kill(sig);
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The shared PostgreSQL the suite uses; tests create and drop their own tables. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const START_POSTGRES = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';

/** Fails loudly, with the command that starts it, when PostgreSQL does not answer. */
export async function requirePostgres(): Promise<void> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    throw new Error(
      `PostgreSQL is not answering at ${DATABASE_URL} (${(err as Error).message}). Start it with:\n  ${START_POSTGRES}`,
      {
        cause: err,
      },
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/** The shared MariaDB (or MySQL) the suite uses; tests create and drop their own tables. */
export const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

const START_MARIADB = 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd';

/** Fails loudly, with the command that starts it, when MariaDB does not answer. */
export async function requireMariaDb(): Promise<void> {
  const { createConnection } = await import('mysql2/promise');
  try {
    const conn = await createConnection({ uri: MYSQL_URL, connectTimeout: 3000 });
    try {
      await conn.query('select 1');
    } finally {
      await conn.end().catch(() => {});
    }
  } catch (err) {
    throw new Error(
      `MariaDB is not answering at ${MYSQL_URL} (${(err as Error).message}). Start it with:\n  ${START_MARIADB}`,
      {
        cause: err,
      },
    );
  }
}
