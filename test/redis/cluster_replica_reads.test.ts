import Redis, { type Cluster } from 'ioredis';
import { Cache } from '../../src';
import { RedisStore } from '../../src/redis';
import { startCluster, type PrivateCluster } from '../support/cluster';
import { uniquePrefix } from '../support/services';

/** Calls of one command on a node, from INFO commandstats. */
async function calls(node: Redis, command: string): Promise<number> {
  const info = await node.info('commandstats');
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return m === null ? 0 : Number(m[1]);
}

async function total(nodes: Redis[], command: string): Promise<number> {
  let n = 0;
  for (const node of nodes) n += await calls(node, command);
  return n;
}

describe('replica reads on Redis Cluster (scaleReads: slave)', () => {
  let cluster: PrivateCluster;
  let client: Cluster;
  let cache: Cache;
  const masters: Redis[] = [];
  const replicas: Redis[] = [];

  /** Waits until every master's replica has acknowledged what this client wrote. */
  const replicated = () => Promise.all(client.nodes('master').map((m) => m.call('WAIT', '1', '5000')));

  beforeAll(async () => {
    cluster = await startCluster(3, 1);
    for (const port of cluster.ports) {
      const node = new Redis({ port, host: '127.0.0.1' });
      const role = await node.role();
      (role[0] === 'master' ? masters : replicas).push(node);
    }
    expect([masters.length, replicas.length]).toEqual([3, 3]);
    client = cluster.client({ scaleReads: 'slave' });
    cache = new Cache({
      prefix: uniquePrefix('replica'),
      l1: false,
      l2: { store: new RedisStore({ client }), timeout: '2s', writeTimeout: '2s' },
    });
  });
  afterAll(async () => {
    await cache?.close();
    await client?.quit();
    for (const n of [...masters, ...replicas]) await n.quit();
    await cluster?.stop();
  });

  test('entry reads are served by replicas, with correct values', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    for (const k of keys) await cache.set(k, { k }, { tags: ['items'] });
    await replicated();
    const replicaGets = await total(replicas, 'get');
    const masterGets = await total(masters, 'get');
    for (const k of keys) expect(await cache.getEntry(k)).toEqual({ value: { k }, layer: 'l2' });
    expect((await total(replicas, 'get')) - replicaGets).toBeGreaterThanOrEqual(keys.length);
    expect((await total(masters, 'get')) - masterGets).toBe(0);
    // Every replica took part: the entries spread over the slots of all three masters.
    for (const r of replicas) expect(await calls(r, 'get')).toBeGreaterThan(0);
  });

  test('tag versions are read on masters, so an invalidation is seen at once', async () => {
    let loads = 0;
    const load = () => ++loads;
    expect(await cache.getOrLoad('inv', load, { tags: ['t'] })).toBe(1);
    await replicated();
    expect(await cache.getOrLoad('inv', load, { tags: ['t'] })).toBe(1);
    const replicaMgets = await total(replicas, 'mget');
    await cache.invalidateTags(['t']);
    // No wait for replication: the stale entry may still be on the replica, the version is not.
    expect(await cache.getOrLoad('inv', load, { tags: ['t'] })).toBe(2);
    expect(await total(replicas, 'mget')).toBe(replicaMgets);
  });
});
