import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis, { Cluster, type ClusterOptions } from 'ioredis';
import { freePort, sleep } from './services';

const run = promisify(execFile);

const INSTALL = 'apt-get install -y redis-server (it provides redis-server and redis-cli)';

/** A private Redis Cluster spawned for one test file. */
export interface PrivateCluster {
  /** Ports of every node, masters and replicas. */
  readonly ports: readonly number[];
  /** Startup nodes for an ioredis `Cluster`. */
  readonly nodes: readonly { host: string; port: number }[];
  /** A new Cluster client on it; the caller closes it (`stop` disconnects any left open). */
  client(options?: ClusterOptions): Cluster;
  /** Kills every node and removes the node files. */
  stop(): Promise<void>;
}

/**
 * Spawns `masters` cluster-enabled redis-servers (plus `replicasPerMaster` replicas each) on
 * free ports, joins them with `redis-cli --cluster create`, and waits for cluster_state:ok.
 */
export async function startCluster(masters = 3, replicasPerMaster = 0): Promise<PrivateCluster> {
  await requireBinary('redis-server');
  await requireBinary('redis-cli');
  const dir = mkdtempSync(join(tmpdir(), 'cachekit-cluster-'));
  const count = masters * (1 + replicasPerMaster);
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  const clients: Cluster[] = [];
  const stop = async (): Promise<void> => {
    // A Cluster client still connecting when its nodes die retries forever and keeps jest alive.
    for (const c of clients) c.disconnect();
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      ports.push(port);
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
        ],
        { stdio: 'ignore' },
      );
      child.once('error', () => {});
      children.push(child);
    }
    for (const port of ports) await waitFor(port, (c) => c.ping().then(() => true));
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    await run(
      'redis-cli',
      ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
      { timeout: 30_000 },
    );
    for (const port of ports) {
      await waitFor(port, async (c) => {
        const info = String(await c.call('CLUSTER', 'INFO'));
        if (!info.includes('cluster_state:ok')) return false;
        // Replicas report ok before their first sync; wait until each has its master's data link.
        const role = await c.role();
        if (role[0] === 'slave' && role[3] !== 'connected') return false;
        // Clients learn replicas from CLUSTER SLOTS; every node must list them before a test starts.
        const slots = (await c.call('CLUSTER', 'SLOTS')) as unknown[][];
        return slots.length > 0 && slots.every((range) => range.length - 2 === 1 + replicasPerMaster);
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
  return {
    ports,
    nodes,
    client: (options) => {
      const c = new Cluster(nodes.slice(), options);
      clients.push(c);
      return c;
    },
    stop,
  };
}

async function requireBinary(name: string): Promise<void> {
  try {
    await run(name, ['--version']);
  } catch (err) {
    throw new Error(`${name} is needed to spawn a Redis Cluster but cannot run: ${INSTALL}`, { cause: err });
  }
}

/** Polls a node until `ready` says true, for at most 20 s. */
async function waitFor(port: number, ready: (c: Redis) => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last: unknown;
  for (;;) {
    const c = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on('error', () => {});
    try {
      await c.connect();
      if (await ready(c)) return;
    } catch (err) {
      last = err;
    } finally {
      c.disconnect();
    }
    if (Date.now() > deadline) {
      throw new Error(`cluster node 127.0.0.1:${port} not ready after 20 s`, { cause: last });
    }
    await sleep(100);
  }
}
