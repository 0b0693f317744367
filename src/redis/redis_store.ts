import Redis, { type Cluster, type RedisOptions } from 'ioredis';
import { closeClient } from './close_client';
import { connect } from './connection';
import { LRUCache } from 'lru-cache';
import { decodeEntry } from '../engine/entry';
import type { L2Read, Store, StoredValue } from '../stores/store';
import type { Bus } from '../stores/bus';
import { RedisBus } from './redis_bus';
import { requestSize } from './tick_batcher';
import { TickPipeline } from './tick_pipeline';
import { RedisLocks, type RedisLocksOptions } from './redis_locks';
import { INVALIDATE_SCRIPT, READ_MANY_SCRIPT, TOUCH_SCRIPT, VERSIONS_SCRIPT } from './scripts';

/** Options of `RedisStore`: an ioredis client you own, or how to make one the store owns. */
export interface RedisStoreOptions {
  /** An existing ioredis client; the store does not close it. */
  client?: Redis | Cluster;
  /** A `redis://` URL for a client the store creates and closes. Default `REDIS_URL` or `redis://127.0.0.1:6379`. */
  url?: string;
  /** Extra ioredis options for a client the store creates. */
  redis?: RedisOptions;
  /**
   * Send the reads that concurrent callers issue in the same tick as one script call. Each
   * caller still costs one round trip; the batch saves CPU on both sides. Default true.
   */
  batchReads?: boolean;
  /**
   * How many entry keys the store remembers the tags of (learned from the entries it writes and
   * reads), so that a hit can fetch the entry and its tag versions in one pipelined round trip of
   * plain MGETs instead of a Lua script. Default 50,000; 0 sends every read through the script.
   */
  tagHints?: number;
  /** Settings of the cross-process load lock (`locks`), used by calls with the `lock` option. */
  locks?: RedisLocksOptions;
}

/**
 * Cluster layout. Entry keys spread over every slot. The invalidation sequence and all tag
 * version keys of one prefix share one slot (hash tag `{<prefix>:__:v}`), so an invalidation
 * stays one atomic script (INCR + SETs) and a tag check is one MGET. That slot is hot, but its
 * keys are tiny counters and it sees one MGET per read batch; the alternative, one slot per
 * tag, would make the bump non-atomic across tags and order it after the INCR by hand.
 */
const VERSION_SLOT_SUFFIX = ':__:v}';

/** A read waiting for its batch to be sent. */
interface PendingRead {
  key: string;
  needTtl: boolean;
  resolve(r: L2Read): void;
  reject(err: unknown): void;
}

/**
 * Most reads sent in one script call: the script costs Redis several µs per key, and one call
 * must not block it for long.
 */
const MAX_SCRIPT_BATCH = 16;
/**
 * Most reads sent in one MGET (a tick's reads go out in a few requests below that: see
 * `flush`). Why this large: ioredis writes every command with its own syscall, which measured
 * ~2 µs of client CPU per read at 16 reads per MGET (64 callers over 1,000 keys,
 * bench/redis_hit.ts), when every tick's reads went out at once. An MGET costs Redis well
 * under a µs per key.
 */
const MAX_MGET_BATCH = 64;

const NO_TAGS: readonly string[] = [];

type ReadReply = [number, ...(Buffer | number | null)[]];

interface ScriptedClient {
  cachekitReadMany(numKeys: number, ...keysThenArgs: string[]): Promise<ReadReply[]>;
  cachekitInvalidate(numKeys: number, ...args: (string | number)[]): Promise<number>;
  cachekitTouch(entry: string, ttl: number): Promise<number>;
  cachekitVersions(numKeys: number, ...keys: string[]): Promise<(string | null)[]>;
}

/**
 * L2 on Redis via ioredis. A hit costs one round trip, tag check included (a Lua script);
 * invalidation is one INCR plus one SET per tag, in one script. On Redis Cluster a read costs
 * two (entries, then their tag versions) and replica reads follow the client's `scaleReads`.
 */
export class RedisStore implements Store {
  readonly name = 'redis';
  /** The ioredis client in use. */
  readonly client: Redis | Cluster;
  /** The cross-process load lock; its subscriber connection opens on the first wait. */
  readonly locks: RedisLocks;
  private readonly owned: boolean;
  private readonly scripted: ScriptedClient;
  private readonly batchReads: boolean;
  /** Reads queued for the next batch, per sequence key (one per cache prefix). */
  private pending = new Map<string, PendingRead[]>();
  private flushScheduled = false;
  /**
   * Entry key → the tag-version keys its header named when last seen. Why: the Lua read costs
   * Redis 7-10 µs per key (scripting overhead, copying each payload into Lua and back), against
   * ~0.6 µs for a key of a plain MGET (bench/redis_hit.ts, INFO commandstats). Knowing the tags
   * beforehand lets a hit be one `MGET entries… versions…`, checked here.
   */
  private readonly hints: LRUCache<string, readonly string[]> | undefined;
  /** Entry writes (and the bus's publishes) of one tick, sent as one pipeline. */
  private readonly writes: TickPipeline;
  /** A Redis Cluster client: version keys move to one slot and reads check tags here. */
  private readonly isCluster: boolean;
  /** The Cluster client reads from replicas; version reads are then forced to masters. */
  private readonly replicaReads: boolean;

  constructor(options: RedisStoreOptions = {}) {
    ({ client: this.client, owned: this.owned } = connect(options));
    const c = this.client as unknown as { cachekitReadMany?: unknown };
    if (typeof c.cachekitReadMany !== 'function') {
      // Buffer variants (`…Buffer`) keep binary payloads intact; defineCommand handles EVALSHA/NOSCRIPT.
      this.client.defineCommand('cachekitReadMany', { lua: READ_MANY_SCRIPT });
      this.client.defineCommand('cachekitInvalidate', { lua: INVALIDATE_SCRIPT });
      this.client.defineCommand('cachekitTouch', { numberOfKeys: 1, lua: TOUCH_SCRIPT });
      this.client.defineCommand('cachekitVersions', { lua: VERSIONS_SCRIPT });
    }
    this.locks = new RedisLocks(this.client, options.locks);
    this.writes = new TickPipeline(this.client);
    this.batchReads = options.batchReads ?? true;
    const hintCount = options.tagHints ?? 50_000;
    const cluster = this.client as { isCluster?: boolean; options?: { scaleReads?: unknown } };
    this.isCluster = cluster.isCluster === true;
    // With `scaleReads` other than 'master', ioredis sends GET/MGET to replicas. Entries may come
    // from there; versions and the sequence must not (see readVersions).
    this.replicaReads = this.isCluster && (cluster.options?.scaleReads ?? 'master') !== 'master';
    // The cluster read path checks tags from the headers it reads; hints serve the single-Redis path.
    this.hints = hintCount > 0 && !this.isCluster ? new LRUCache({ max: hintCount }) : undefined;
    const client = this.client as unknown as Record<string, (...a: unknown[]) => Promise<never>>;
    this.scripted = {
      cachekitReadMany: (n, ...rest) => client.cachekitReadManyBuffer(n, ...rest),
      cachekitInvalidate: (n, ...args) => client.cachekitInvalidate(n, ...args),
      cachekitTouch: (entry, ttl) => client.cachekitTouch(entry, ttl),
      cachekitVersions: (n, ...keys) => client.cachekitVersions(n, ...keys),
    };
  }

  readValidated(key: string, seqKey: string, needTtl = true): Promise<L2Read> {
    return new Promise<L2Read>((resolve, reject) => {
      const read: PendingRead = { key, needTtl, resolve, reject };
      if (!this.batchReads) {
        this.sendBatch(seqKey, [read]);
        return;
      }
      let list = this.pending.get(seqKey);
      if (list === undefined) this.pending.set(seqKey, (list = []));
      list.push(read);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After the current wave of microtasks: every caller resumed by the same reply batches together.
        process.nextTick(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    const max = this.hints === undefined ? MAX_SCRIPT_BATCH : MAX_MGET_BATCH;
    for (const [seqKey, reads] of pending) {
      // A few requests per tick, not one, for the reason the write-behind appends have (see
      // tick_batcher.ts): every caller resumed by one reply makes its next read together with
      // the others, and node then sat idle for the whole round trip. Split, Redis answers the
      // first request while node still handles the rest. Measured in alternating runs: Redis-only
      // hits with 64 callers (bench/redis_hit.ts) 108.4k and 113.6k → 135.9k and 138.7k per
      // second; findOneById with 16 callers (bench/find_one.ts) 60.3k and 58.0k → 68.7k and
      // 78.2k, the query cache 21.3k and 21.2k → 23.8k and 23.5k.
      const size = requestSize(reads.length, max);
      if (reads.length <= size) this.sendBatch(seqKey, reads);
      else for (let i = 0; i < reads.length; i += size) this.sendBatch(seqKey, reads.slice(i, i + size));
    }
  }

  private sendBatch(seqKey: string, reads: PendingRead[]): void {
    if (this.isCluster) {
      this.sendCluster(seqKey, reads);
      return;
    }
    const hints = this.hints;
    if (hints === undefined) {
      this.sendScripted(seqKey, reads);
      return;
    }
    // Read entries first and versions second, in one pipeline: an invalidation that lands
    // between the two only makes an entry look stale, never a stale entry look fresh.
    const keys: string[] = new Array(reads.length);
    const versionKeys: string[] = [seqKey];
    const slot = new Map<string, number>();
    let needTtl = false;
    for (let i = 0; i < reads.length; i++) {
      const r = reads[i];
      keys[i] = r.key;
      if (r.needTtl) needTtl = true;
      const tags = hints.get(r.key);
      if (tags === undefined) continue;
      for (let j = 0; j < tags.length; j++) {
        const t = tags[j];
        if (!slot.has(t)) slot.set(t, versionKeys.push(t) - 1);
      }
    }
    const n = reads.length;
    // Without TTLs (no L1 to fill) one MGET reads entries and versions at a single instant; it
    // measured ~30% less client CPU per read than the two-command pipeline, which ioredis builds
    // as a full Pipeline object per batch (bench/redis_hit.ts).
    const sent: Promise<(Buffer | null)[] | [Error | null, unknown][] | null> = needTtl
      ? pipelinedRead(this.client, keys, versionKeys)
      : this.client.mgetBuffer(...keys, ...versionKeys);
    sent.then(
      (reply) => {
        let datas: (Buffer | null)[];
        let versions: readonly (Buffer | string | null)[];
        let ttls: [Error | null, unknown][] | undefined;
        let vAt = 0;
        if (needTtl) {
          const results = reply as [Error | null, unknown][] | null;
          const failed = results?.find((r) => r[0]);
          if (!results || failed) {
            const err = failed?.[0] ?? new Error('pipeline returned nothing');
            for (const r of reads) r.reject(err);
            return;
          }
          datas = results[0][1] as (Buffer | null)[];
          versions = results[1][1] as (string | null)[];
          ttls = results;
        } else {
          datas = versions = reply as (Buffer | null)[];
          vAt = n;
        }
        const seq = seqOf(versions[vAt]);
        let unknown: PendingRead[] | undefined;
        for (let i = 0; i < reads.length; i++) {
          const read = reads[i];
          const data = datas[i];
          if (data === null) {
            read.resolve({ kind: 'miss', seq });
            continue;
          }
          const entry = decodeEntry(data);
          if (entry === undefined) {
            // Not written by cachekit: what the script calls a miss; the engine overwrites it.
            read.resolve({ kind: 'miss', seq });
            continue;
          }
          const { header } = entry;
          const tags = header.t;
          let stale = false;
          let known = true;
          if (tags !== undefined) {
            for (let j = 0; j < tags.length; j++) {
              const at = slot.get(tags[j]);
              if (at === undefined) {
                known = false;
                break;
              }
              const v = versions[vAt + at];
              if (v !== null && versionNumber(v) > header.s) {
                stale = true;
                break;
              }
            }
          }
          if (!known) {
            // Tags this store had not seen for the key: check them with the script (a second trip, once).
            hints.set(read.key, tags!);
            (unknown ??= []).push(read);
            continue;
          }
          const pttl = ttls !== undefined ? ttlOf(ttls[2 + i][1] as number) : -1;
          if (stale) {
            read.resolve({ kind: 'stale', seq, data, remainingMs: pttl });
            continue;
          }
          const sliding = header.sl ?? 0;
          if (sliding > 0) {
            // The script extends a sliding entry in the same call; here it follows the read.
            // Fire and forget: a failed touch only lets the entry expire at its old time.
            this.client.pexpire(read.key, sliding).catch(() => undefined);
          }
          read.resolve({ kind: 'hit', data, remainingMs: sliding > 0 ? sliding : pttl, entry });
        }
        if (unknown !== undefined)
          for (let i = 0; i < unknown.length; i += MAX_SCRIPT_BATCH)
            this.sendScripted(seqKey, unknown.slice(i, i + MAX_SCRIPT_BATCH));
      },
      (err) => {
        for (const r of reads) r.reject(err);
      },
    );
  }

  /**
   * The Cluster read: entries first (each on its own slot, sent concurrently), then the sequence
   * and every tag they name in one MGET on the version slot. Two round trips, in that order: an
   * invalidation landing between them only makes an entry look stale, never a stale one fresh.
   */
  private sendCluster(seqKey: string, reads: PendingRead[]): void {
    const needTtl = reads.some((r) => r.needTtl);
    const client = this.client;
    const fetches = reads.map((r) =>
      needTtl
        ? Promise.all([client.getBuffer(r.key), client.pttl(r.key)])
        : client.getBuffer(r.key).then((d) => [d, -1] as const),
    );
    Promise.all(fetches)
      .then(async (rows) => {
        const versionKeys = [this.versionKey(seqKey)];
        const at = new Map<string, number>();
        const entries = rows.map(([data]) => (data === null ? undefined : decodeEntry(data)));
        for (const e of entries) {
          const tags = e?.header.t;
          if (tags === undefined) continue;
          for (const t of tags) if (!at.has(t)) at.set(t, versionKeys.push(this.versionKey(t)) - 1);
        }
        const versions = await this.readVersions(versionKeys);
        const seq = seqOf(versions[0]);
        for (let i = 0; i < reads.length; i++) {
          const read = reads[i];
          const entry = entries[i];
          if (entry === undefined) {
            read.resolve({ kind: 'miss', seq });
            continue;
          }
          const data = rows[i][0]!;
          const pttl = needTtl ? ttlOf(rows[i][1]) : -1;
          const { header } = entry;
          const stale = header.t?.some((t) => {
            const v = versions[at.get(t)!];
            return v !== null && Number(v) > header.s;
          });
          if (stale) {
            read.resolve({ kind: 'stale', seq, data, remainingMs: pttl });
            continue;
          }
          const sliding = header.sl ?? 0;
          if (sliding > 0) client.pexpire(read.key, sliding).catch(() => undefined);
          read.resolve({ kind: 'hit', data, remainingMs: sliding > 0 ? sliding : pttl, entry });
        }
      })
      .catch((err: unknown) => {
        for (const r of reads) r.reject(err);
      });
  }

  /** Where a sequence or tag version key lives: itself on one Redis, the prefix's version slot on Cluster. */
  private versionKey(key: string): string {
    if (!this.isCluster) return key;
    const end = key.indexOf(':__:');
    // Braces in a prefix would end the hash tag early (or empty it); they only choose the slot.
    const prefix = (end < 0 ? 'cachekit' : key.slice(0, end)).replace(/[{}]/g, '_');
    return '{' + prefix + VERSION_SLOT_SUFFIX + key;
  }

  /**
   * Reads version keys (all on one slot). With replica reads on, a plain MGET would go to a
   * replica, which may not have seen an invalidation yet; a script always runs on the master.
   */
  private readVersions(keys: string[]): Promise<(string | null)[]> {
    if (this.replicaReads) return this.scripted.cachekitVersions(keys.length, ...keys);
    return this.client.mget(...keys);
  }

  /** The Lua read: entries and their tag check in one script call. */
  private sendScripted(seqKey: string, reads: PendingRead[]): void {
    const keys = reads.map((r) => r.key);
    const needTtl = reads.some((r) => r.needTtl) ? '1' : '0';
    this.scripted.cachekitReadMany(1 + keys.length, seqKey, ...keys, needTtl).then(
      (replies) => {
        for (let i = 0; i < reads.length; i++) {
          const reply = replies[i];
          if (this.hints !== undefined && reply[0] !== 0)
            this.learn(reads[i].key, reply[reply[0] === 1 ? 1 : 2] as Buffer);
          reads[i].resolve(toRead(reply));
        }
      },
      (err) => {
        for (const r of reads) r.reject(err);
      },
    );
  }

  /** Remembers the tags an entry's header names, for the pipelined read of its key. */
  private learn(key: string, data: Buffer): void {
    const entry = decodeEntry(data);
    if (entry !== undefined) this.hints!.set(key, entry.header.t ?? NO_TAGS);
  }

  /** An L1 invalidation bus on this store's Redis (pub/sub on a connection of its own). */
  createBus(): Bus {
    return new RedisBus(this.client, this.writes);
  }

  async get(key: string): Promise<StoredValue | undefined> {
    if (this.replicaReads) {
      // A MULTI always runs on the master; two plain reads follow the client's scaleReads.
      const [data, pttl] = await Promise.all([this.client.getBuffer(key), this.client.pttl(key)]);
      return data === null ? undefined : { data, remainingMs: ttlOf(pttl) };
    }
    const r = await this.client.multi().getBuffer(key).pttl(key).exec();
    const data = r?.[0]?.[1] as Buffer | null;
    if (!data) return undefined;
    return { data, remainingMs: ttlOf(r![1][1] as number) };
  }

  async set(key: string, data: Buffer, ttlMs: number): Promise<void> {
    if (this.hints !== undefined) this.learn(key, data);
    await this.writes.set(key, data, Math.max(1, Math.ceil(ttlMs)));
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    // One DEL per key: multi-key DEL would cross hash slots on Cluster.
    if (keys.length === 1) await this.client.del(keys[0]);
    else await Promise.all(keys.map((k) => this.client.del(k)));
  }

  async touch(key: string, ttlMs: number): Promise<void> {
    await this.client.pexpire(key, Math.max(1, Math.ceil(ttlMs)));
  }

  async touchValidated(key: string, ttlMs: number): Promise<void> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    if (!this.isCluster) {
      await this.scripted.cachekitTouch(key, ttl);
      return;
    }
    // The script would read version keys on another slot. Checked here instead; an invalidation
    // that lands before the PEXPIRE only keeps a dead entry longer, and reads still see it stale.
    const data = await this.client.getBuffer(key);
    const entry = data === null ? undefined : decodeEntry(data);
    if (entry === undefined) return;
    const tags = entry.header.t ?? NO_TAGS;
    if (tags.length > 0) {
      const vs = await this.readVersions(tags.map((t) => this.versionKey(t)));
      if (vs.some((v) => v !== null && Number(v) > entry.header.s)) return;
    }
    await this.client.pexpire(key, ttl);
  }

  async getVersions(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const vs = this.isCluster
      ? await this.readVersions(keys.map((k) => this.versionKey(k)))
      : await this.client.mget(...keys);
    return vs.map((v) => (v === null ? 0 : Number(v)));
  }

  async captureSeq(seqKey: string): Promise<number> {
    const v = this.replicaReads
      ? (await this.readVersions([this.versionKey(seqKey)]))[0]
      : await this.client.get(this.versionKey(seqKey));
    return v === null ? 0 : Number(v);
  }

  async invalidate(seqKey: string, tagKeys: readonly string[], versionTtlMs: number): Promise<number> {
    if (this.isCluster) {
      seqKey = this.versionKey(seqKey);
      tagKeys = tagKeys.map((t) => this.versionKey(t));
    }
    return this.scripted.cachekitInvalidate(1 + tagKeys.length, seqKey, ...tagKeys, Math.ceil(versionTtlMs));
  }

  async close(): Promise<void> {
    // The subscriber is the store's own even when the client is not.
    await this.locks.close();
    if (!this.owned) return;
    await closeClient(this.client);
  }
}

function toRead(r: ReadReply): L2Read {
  switch (r[0]) {
    case 1:
      return { kind: 'hit', data: r[1] as Buffer, remainingMs: ttlOf(r[2] as number) };
    case 2:
      return { kind: 'stale', seq: seqOf(r[1]), data: r[2] as Buffer, remainingMs: ttlOf(r[3] as number) };
    default:
      return { kind: 'miss', seq: seqOf(r[1]) };
  }
}

/** Entries, versions and TTLs of a batch, in one pipeline (the L1 fill needs the TTLs). */
function pipelinedRead(
  client: Redis | Cluster,
  keys: readonly string[],
  versionKeys: readonly string[],
): Promise<[Error | null, unknown][] | null> {
  const p = client
    .pipeline()
    .mgetBuffer(...keys)
    .mget(...versionKeys);
  for (const k of keys) p.pttl(k);
  return p.exec();
}

/** A tag version read as a string or as bytes; NaN for anything but a decimal integer. */
function versionNumber(v: Buffer | string): number {
  if (typeof v === 'string') return Number(v);
  // Digits parsed in place: a version is a short decimal, and a string per tag per hit adds up.
  if (v.length === 0 || v.length > 15) return Number(v.toString('latin1'));
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const d = v[i] - 48;
    if (d < 0 || d > 9) return Number(v.toString('latin1'));
    n = n * 10 + d;
  }
  return n;
}

function seqOf(v: unknown): number | undefined {
  if (v === null || v === undefined || v === false) return 0;
  const n = Number(Buffer.isBuffer(v) ? v.toString() : v);
  return Number.isFinite(n) ? n : undefined;
}

function ttlOf(pttl: number): number {
  // -1: no expiry (not written by cachekit); -2: gone between GET and PTTL (cannot happen in a script).
  return pttl >= 0 ? pttl : pttl === -1 ? Infinity : 0;
}
