import { randomBytes } from 'node:crypto';
import { closeClient } from './close_client';
import { connect } from './connection';
import { hostname } from 'node:os';
import Redis, { type Cluster, type RedisOptions } from 'ioredis';
import { type Duration, parseDuration } from '../engine/duration';
import { CacheConfigError, CacheStoreError } from '../errors';
import type { CarriedWrite } from '../engine/carried_write';
import type { Store } from '../stores/store';
import { FramedScript, type FrameArg } from './framed_script';
import { RedisBus } from './redis_bus';
import { RedisStore } from './redis_store';
import { TickBatcher } from './tick_batcher';
import type {
  AppendedShown,
  ClaimResult,
  DeadLetter,
  PendingWrite,
  QueueDepth,
  QueuedWrite,
  QueueEntry,
  RowRecord,
  RowVersion,
  Completion,
  WriteOp,
  WriteQueue,
} from '../write_behind/write_queue';

/** Options of `RedisStreamQueue`. */
export interface RedisStreamQueueOptions {
  /** An existing ioredis client; the queue does not close it (it opens one more connection for blocking reads). */
  client?: Redis | Cluster;
  /** A `redis://` URL for a client the queue creates and closes. Default `REDIS_URL` or `redis://127.0.0.1:6379`. */
  url?: string;
  /** Extra ioredis options for a client the queue creates. */
  redis?: RedisOptions;
  /**
   * The queue's name: every instance of the application that shares it shares the writes.
   * Keys are `cachekit:wb:{<name>}…` (one hash slot, so it works on Cluster).
   */
  name: string;
  /** Consumer group of the flushers. Default `'flushers'`. One group per stream. */
  group?: string;
  /** This instance's consumer name. Default host, pid and a random suffix: unique per process. */
  consumer?: string;
  /**
   * How long an entry may stay unacknowledged with a consumer before another instance takes
   * it over (that consumer is presumed dead). Live consumers refresh theirs. Default `'30s'`.
   */
  claimIdle?: Duration;
  /** How long a flusher's lease on a row lasts while it writes the row. Default `'30s'`. */
  leaseTtl?: Duration;
  /** Dead letters kept (older ones are trimmed). Default 10,000. */
  maxDeadLetters?: number;
  /**
   * Replicas that must hold an append before it is acknowledged (Redis `WAIT`). Default 0:
   * acknowledged once the primary has it.
   */
  replicas?: number;
  /** Longest `WAIT` for those replicas. Default `'1s'`. */
  replicaTimeout?: Duration;
}

/*
 * Keys (all in one hash slot):
 *   cachekit:wb:{name}          the stream: one entry per append call, fields n (its number of
 *                               writes) then e(ntity) k(ey) v(ersion) per write: which rows
 *                               changed (entries of earlier releases hold one write without n,
 *                               some with o(p) and p(ayload) too)
 *   cachekit:wb:{name}:seq      the version counter
 *   cachekit:wb:{name}:n        writes appended and not yet acknowledged (pending())
 *   cachekit:wb:{name}:r:<row>  the row's newest pending write: "<version>|<o>|<payload>" (the
 *                               only copy of the payload: the flusher writes what it holds), o being
 *                               s/r (save/remove), S/R once its saver confirmed the cache shows
 *                               it; after its flush "<version>|~" for a while
 *   cachekit:wb:{name}:l:<row>  a flusher's lease on the row while it writes it
 *   cachekit:wb:{name}:dead     the dead-letter stream
 */

/**
 * Names write i of an append call in its stream entry's fields (after `n` and the count, see
 * the key layout above): e, k, v.
 */
const ENTRY_FN = `
local function name(fields, i, entity, key, version)
  local f = 6 * i - 3
  fields[f], fields[f + 1], fields[f + 2], fields[f + 3], fields[f + 4], fields[f + 5] =
    'e', entity, 'k', key, 'v', version
end
`;

/**
 * KEYS[1] stream, KEYS[2] version counter, KEYS[3] pending-write count, KEYS[3+i] record of
 * write i; ARGV four items per write: entity, key, op, payload. The versions, row records and
 * the stream entry (one for the call, naming every write) are written in one step, so the
 * newest version of a row is always the one its record names. Returns the versions, in order.
 */
const APPEND = `${ENTRY_FN}
local n = #KEYS - 3
local first = redis.call('INCRBY', KEYS[2], n) - n
local out, recs, fields = {}, {}, { 'n', string.format('%d', n) }
for i = 1, n do
  local a = (i - 1) * 4
  local v = string.format('%d', first + i)
  recs[2 * i - 1] = KEYS[3 + i]
  recs[2 * i] = v .. '|' .. string.sub(ARGV[a + 3], 1, 1) .. '|' .. ARGV[a + 4]
  name(fields, i, ARGV[a + 1], ARGV[a + 2], v)
  out[i] = v
end
redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('INCRBY', KEYS[3], n)
redis.call('MSET', unpack(recs))
return out
`;

/**
 * APPEND, and the cache side of each write in the same step (the cache's L2 is this Redis).
 * KEYS[1] stream, KEYS[2] version counter, KEYS[3] pending-write count, then per write: its
 * record, its cache entry, the cache's invalidation sequence and the tag-version keys the write
 * moves; ARGV[1] the tag versions' TTL in ms, ARGV[2..4] the L1-bus channel ('' for none) and
 * its message's text before and after the sequence number, then per write: entity, key, the
 * record's op letter (S or R: shown), payload, the entry's bytes after its sequence field, the
 * entry's TTL in ms, the number of tag keys. Numbers are turned into text once, with %d: Lua
 * formats a number with sprintf("%.14g") every time it is used as a string, and that was about
 * 8% of the script's instructions (callgrind, append calls shaped like bench/write_behind.ts's).
 * Each sequence is incremented once per call; the tags are set to it and the entries stamped
 * with it. So whatever loaded the row before this step is stale (its capture is older than the
 * tags), while the new entry is current; and the record is written as shown (S/R), since the
 * entry holds this very write. The bus message (all writes share the first one's sequence then)
 * goes out last, once every entry is stored. Returns version and sequence of each write, in
 * order.
 */
const APPEND_SHOWN = `${ENTRY_FN}
local count = string.format('%d', (#ARGV - 4) / 7)
local first = redis.call('INCRBY', KEYS[2], count) - tonumber(count)
local seqs, out, recs, fields, k, a, n = {}, {}, {}, { 'n', count }, 4, 5, 0
while k <= #KEYS do
  n = n + 1
  local v = string.format('%d', first + n)
  local rec, entry, seqKey = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  local nt = tonumber(ARGV[a + 6])
  local seq = seqs[seqKey]
  if not seq then
    seq = string.format('%d', redis.call('INCR', seqKey))
    seqs[seqKey] = seq
  end
  for t = 1, nt do redis.call('SET', KEYS[k + 2 + t], seq, 'PX', ARGV[1]) end
  recs[2 * n - 1] = rec
  recs[2 * n] = v .. '|' .. ARGV[a + 2] .. '|' .. ARGV[a + 3]
  name(fields, n, ARGV[a], ARGV[a + 1], v)
  redis.call('SET', entry, 'ck2\\31' .. seq .. ARGV[a + 4], 'PX', ARGV[a + 5])
  out[2 * n - 1] = v
  out[2 * n] = seq
  k = k + 3 + nt
  a = a + 7
end
redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('INCRBY', KEYS[3], count)
redis.call('MSET', unpack(recs))
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3] .. seqs[KEYS[6]] .. ARGV[4]) end
return out
`;

/**
 * The version of a record that names a pending write; nil for none or for a flushed marker
 * ("<version>|~", kept a while after the flush so that slow cache writers learn of it).
 */
const PENDING_FN = `
local function pendingVersion(rec)
  if not rec then return nil end
  local v, op = string.match(rec, '^(%d+)|(.)')
  if op == '~' then return nil end
  return v
end
`;

/**
 * KEYS record1, lease1, record2, lease2…; ARGV[1] consumer, ARGV[2] lease ms. Per row: 0 stale
 * (no pending write), 2 busy (another's lease), or the record (its lease now held): the flusher
 * writes the newest state whichever of the row's entries it read. The records are read with one
 * MGET: each redis.call costs a few µs of its own.
 */
const CLAIM = `${PENDING_FN}
local n = #KEYS / 2
local rk = {}
for i = 1, n do rk[i] = KEYS[2 * i - 1] end
local recs = redis.call('MGET', unpack(rk))
local out = {}
for i = 1, n do
  if not pendingVersion(recs[i]) then
    out[i] = 0
  else
    local lk = KEYS[2 * i]
    if redis.call('SET', lk, ARGV[1], 'NX', 'PX', ARGV[2]) then
      out[i] = recs[i]
    elseif redis.call('GET', lk) == ARGV[1] then
      redis.call('PEXPIRE', lk, ARGV[2])
      out[i] = recs[i]
    else
      out[i] = 2
    end
  end
end
return out
`;

/**
 * KEYS records; ARGV their versions. Marks each record still at that version as shown (its op
 * letter upper-cased in place); returns per row 0, or the whole record when it moved on.
 */
const CONFIRM = `
local out = {}
for i = 1, #KEYS do
  local head = redis.call('GETRANGE', KEYS[i], 0, 23)
  local v, op = string.match(head, '^(%d+)|(.)')
  out[i] = 0
  if v == ARGV[i] then
    if op == 's' or op == 'r' then redis.call('SETRANGE', KEYS[i], #v + 1, string.upper(op)) end
  elseif v and tonumber(v) > tonumber(ARGV[i]) then
    out[i] = redis.call('GET', KEYS[i])
  end
end
return out
`;

/**
 * Acknowledges the entries ARGV[from..], each "<stream ID>#<writes>" (or a bare ID for an entry
 * of an earlier release, not in the count), and takes the writes of those it acknowledged (not
 * another consumer before it) off the pending-write count.
 */
const ACK_FN = `
local function ack(stream, group, count, from)
  local done = 0
  for i = from, #ARGV do
    local id, n = string.match(ARGV[i], '^([^#]+)#(%d+)$')
    if not id then id, n = ARGV[i], 0 end
    if redis.call('XACK', stream, group, id) == 1 then done = done + n end
  end
  if done > 0 then redis.call('DECRBY', count, done) end
end
`;

/**
 * Drops the leases among `keys` that `consumer` holds: one MGET and one DEL per thousand
 * rather than a GET and a DEL per row.
 */
const RELEASE_FN = `
local function release(keys, consumer)
  local i = 1
  while i <= #keys do
    local j = math.min(i + 999, #keys)
    local held = redis.call('MGET', unpack(keys, i, j))
    local mine = {}
    for x = 1, j - i + 1 do
      if held[x] == consumer then mine[#mine + 1] = keys[i + x - 1] end
    end
    if #mine > 0 then redis.call('DEL', unpack(mine)) end
    i = j + 1
  end
end
`;

/**
 * After a commit. KEYS[1] stream, KEYS[2] pending-write count, then record/lease pairs of the
 * rows written; ARGV[1] group, ARGV[2] consumer, ARGV[3] ms to keep flushed markers, ARGV[4] n
 * rows, ARGV[5..4+n] their versions, the rest entry IDs to ack. Per row: 2 retired and shown,
 * 1 retired (the written version was still the newest; it becomes a flushed marker), 0 a newer
 * write is pending (the record is left as it was; a marker gets its full time again). Each
 * redis.call costs a few µs of its own (arguments in, reply back through RESP), so a record is
 * swapped with SET … GET, and put back in the rare case it had moved on, instead of read first.
 */
const COMPLETE = `${ACK_FN}${RELEASE_FN}
local n = tonumber(ARGV[4])
local out, leases = {}, {}
for i = 1, n do
  local rk = KEYS[2 * i + 1]
  leases[i] = KEYS[2 * i + 2]
  -- Retire first and look at what was there after: one call in the usual case, where the
  -- written version is still the newest. Otherwise what was there goes back.
  local old = redis.call('SET', rk, ARGV[4 + i] .. '|~', 'PX', ARGV[3], 'GET')
  local v, op
  if old then v, op = string.match(old, '^(%d+)|(.)') end
  if v == ARGV[4 + i] and op ~= '~' then
    if op == 'S' or op == 'R' then out[i] = 2 else out[i] = 1 end
  else
    out[i] = 0
    if not old then redis.call('DEL', rk)
    elseif op == '~' then redis.call('SET', rk, old, 'PX', ARGV[3])
    else redis.call('SET', rk, old) end
  end
end
release(leases, ARGV[2])
ack(KEYS[1], ARGV[1], KEYS[2], 5 + n)
return out
`;

/**
 * KEYS[1] stream, KEYS[2] dead stream, KEYS[3] record, KEYS[4] lease, KEYS[5] pending-write
 * count; ARGV[1] group, ARGV[2] consumer, ARGV[3] version, ARGV[4] max dead letters, ARGV[5] ms
 * to keep the flushed marker, ARGV[6] n field/value items, then those items, then entry IDs to
 * ack. Returns 1 when the record was retired (the version was the row's newest).
 */
const DEAD = `${ACK_FN}${PENDING_FN}${RELEASE_FN}
local nf = tonumber(ARGV[6])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 7, 6 + nf))
local retired = 0
if pendingVersion(redis.call('GET', KEYS[3])) == ARGV[3] then
  redis.call('SET', KEYS[3], ARGV[3] .. '|~', 'PX', ARGV[5])
  retired = 1
end
release({ KEYS[4] }, ARGV[2])
ack(KEYS[1], ARGV[1], KEYS[5], 7 + nf)
return retired
`;

/** KEYS leases; ARGV[1] consumer. Drops the leases this consumer holds. */
const RELEASE = `${RELEASE_FN}
release(KEYS, ARGV[1])
return 0
`;

const APPEND_SHOWN_SCRIPT = new FramedScript(APPEND_SHOWN);
const CLAIM_SCRIPT = new FramedScript(CLAIM);
const COMPLETE_SCRIPT = new FramedScript(COMPLETE);

interface QueueCommands {
  cachekitWbAppend(n: number, ...args: string[]): Promise<string[]>;
  cachekitWbClaim(n: number, ...args: (string | number)[]): Promise<(number | string)[]>;
  cachekitWbRelease(n: number, ...args: string[]): Promise<number>;
  cachekitWbConfirm(n: number, ...args: string[]): Promise<(number | string)[]>;
  cachekitWbComplete(n: number, ...args: (string | number)[]): Promise<number[]>;
  cachekitWbDead(n: number, ...args: (string | number)[]): Promise<number>;
}

/**
 * How long a flushed row's marker outlives its flush: far longer than a cache write may lag
 * behind its append, short enough that only recently flushed rows cost memory.
 */
const FLUSHED_MARKER_MS = 30_000;

/** Most appends (or confirmations) sent in one call. */
const MAX_BATCH = 256;

/**
 * Rows per claim or complete script call. A script holds Redis for its whole run: a 500-row one
 * took a few milliseconds, and every save's append waited behind it while node sat idle. In
 * 64-row calls the appends get in between: on the write-behind bench (flusher in process, a
 * 2-core machine), medians 10.9k vs 11.8k acknowledged saves per second over 9 rounds each.
 */
const ROW_CHUNK = 64;
const NAME = /^[^{}\s]+$/;

type RawEntry = [string, string[] | null];

/** An append whose cache entry rides along. */
interface ShownAppend {
  readonly write: QueuedWrite;
  readonly entry: CarriedWrite;
}

/**
 * Whether two clients reach the same keys: the same client, or two single-Redis clients of the
 * same server and database with the same key prefix. A Cluster never qualifies: the entry and the queue sit on different
 * slots there.
 */
function sameKeyspace(a: Redis | Cluster, b: Redis | Cluster): boolean {
  if (!sameServer(a, b)) return false;
  if (a === b) return true;
  const x = (a as Redis).options;
  const y = (b as Redis).options;
  // ioredis prepends `keyPrefix` to every key: with different ones the entry would land elsewhere.
  return (x.db ?? 0) === (y.db ?? 0) && (x.keyPrefix ?? '') === (y.keyPrefix ?? '');
}

/** Whether two single-Redis clients reach the same server (pub/sub channels are server-wide). */
function sameServer(a: Redis | Cluster, b: Redis | Cluster): boolean {
  if ((a as { isCluster?: boolean }).isCluster || (b as { isCluster?: boolean }).isCluster) return false;
  if (a === b) return true;
  const x = (a as Redis).options;
  const y = (b as Redis).options;
  if (x.sentinels || y.sentinels) return false;
  return x.host === y.host && x.port === y.port && x.path === y.path;
}

/**
 * A durable write-behind queue on Redis Streams.
 *
 * An append is one script (version, row record, XADD) on the primary, and the write is
 * acknowledged when it returns. Flushers read through a consumer group (XREADGROUP) and
 * acknowledge (XACK) only after their database commit. A flusher that dies leaves its entries
 * pending; after `claimIdle` another instance takes them over (XAUTOCLAIM) and flushes them, so
 * an acknowledged write reaches the database even if its process was SIGKILLed right after.
 *
 * "Durable" means "in Redis": it survives a Redis restart only with persistence on
 * (`appendonly yes`, ideally `appendfsync everysec` or `always`), and a failover only for
 * appends the replica received (`replicas` makes the append wait for them).
 */
export class RedisStreamQueue implements WriteQueue {
  readonly durable = true;
  /** The ioredis client in use for everything but blocking reads. */
  readonly client: Redis | Cluster;
  /** This instance's consumer name in the group. */
  readonly consumer: string;
  /** The stream's key. */
  readonly streamKey: string;
  /** The dead-letter stream's key. */
  readonly deadKey: string;
  private readonly base: string;
  private readonly seqKey: string;
  /** Writes appended and not yet acknowledged: entries hold several, so XPENDING cannot tell. */
  private readonly countKey: string;
  private readonly group: string;
  private readonly owned: boolean;
  private readonly cmd: QueueCommands;
  private readonly claimIdleMs: number;
  private readonly leaseMs: number;
  private readonly maxDead: number;
  private readonly replicas: number;
  private readonly replicaTimeoutMs: number;
  private reader: Redis | Cluster | undefined;
  private groupReady: Promise<void> | undefined;
  private reclaimCursor = '0-0';
  private readonly appends = new TickBatcher<QueuedWrite, number>((w) => this.appendMany(w), MAX_BATCH);
  private readonly shownAppends = new TickBatcher<ShownAppend, AppendedShown>(
    (w) => this.appendShownMany(w),
    MAX_BATCH,
  );
  private readonly confirms = new TickBatcher<RowVersion, RowRecord | undefined>(
    (rows) => this.confirmMany(rows),
    MAX_BATCH,
  );
  private lastKeepAlive = 0;
  private closed = false;

  constructor(options: RedisStreamQueueOptions) {
    if (typeof options !== 'object' || options === null)
      throw new CacheConfigError('RedisStreamQueue', options, 'expected an options object');
    if (typeof options.name !== 'string' || !NAME.test(options.name))
      throw new CacheConfigError('name', options.name, 'expected a non-empty name without braces or spaces');
    const group = options.group ?? 'flushers';
    if (typeof group !== 'string' || !NAME.test(group))
      throw new CacheConfigError('group', group, 'expected a non-empty name without braces or spaces');
    this.group = group;
    this.consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    if (typeof this.consumer !== 'string' || this.consumer === '')
      throw new CacheConfigError('consumer', options.consumer, 'expected a non-empty string');
    this.claimIdleMs = parseDuration('claimIdle', options.claimIdle ?? '30s');
    this.leaseMs = parseDuration('leaseTtl', options.leaseTtl ?? '30s');
    this.replicaTimeoutMs = parseDuration('replicaTimeout', options.replicaTimeout ?? '1s');
    this.maxDead = positiveInt('maxDeadLetters', options.maxDeadLetters, 10_000);
    const replicas = options.replicas ?? 0;
    if (!Number.isInteger(replicas) || replicas < 0)
      throw new CacheConfigError('replicas', replicas, 'expected a whole number, 0 or more');
    this.replicas = replicas;
    this.base = `cachekit:wb:{${options.name}}`;
    this.streamKey = this.base;
    this.deadKey = `${this.base}:dead`;
    this.seqKey = `${this.base}:seq`;
    this.countKey = `${this.base}:n`;
    // An append that cannot reach Redis must fail (the write is not acknowledged), not queue.
    ({ client: this.client, owned: this.owned } = connect(options));
    const c = this.client as unknown as Record<string, unknown>;
    if (typeof c.cachekitWbAppend !== 'function') {
      this.client.defineCommand('cachekitWbAppend', { lua: APPEND });
      this.client.defineCommand('cachekitWbClaim', { lua: CLAIM });
      this.client.defineCommand('cachekitWbRelease', { lua: RELEASE });
      this.client.defineCommand('cachekitWbConfirm', { lua: CONFIRM });
      this.client.defineCommand('cachekitWbComplete', { lua: COMPLETE });
      this.client.defineCommand('cachekitWbDead', { lua: DEAD });
    }
    this.cmd = this.client as unknown as QueueCommands;
  }

  /** Key of a row's record. */
  private rec(key: string): string {
    return `${this.base}:r:${key}`;
  }

  private lease(key: string): string {
    return `${this.base}:l:${key}`;
  }

  /**
   * Runs one of the flusher's batch scripts (hundreds of arguments): as one pre-encoded frame
   * on a single Redis (see framed_script.ts); on a Cluster, as ioredis' command, which routes
   * it by its keys.
   */
  private script<T>(
    framed: FramedScript,
    name: keyof QueueCommands,
    numKeys: number,
    items: FrameArg[],
  ): Promise<T> {
    if ((this.client as { isCluster?: boolean }).isCluster)
      return (this.cmd[name] as (...a: FrameArg[]) => Promise<T>)(numKeys, ...items);
    return framed.call(this.client as Redis, numKeys, items) as Promise<T>;
  }

  /** Creates the consumer group (from the stream's start, so nothing appended earlier is skipped). */
  private ready(): Promise<void> {
    this.groupReady ??= this.client.xgroup('CREATE', this.streamKey, this.group, '0', 'MKSTREAM').then(
      () => {},
      (err: Error) => {
        if (/BUSYGROUP/.test(err.message)) return;
        this.groupReady = undefined;
        throw err;
      },
    );
    return this.groupReady;
  }

  /** Runs `op`; if the group vanished (the stream was deleted), recreates it and runs `op` again. */
  private async withGroup<T>(op: () => Promise<T>): Promise<T> {
    await this.ready();
    try {
      return await op();
    } catch (err) {
      if (!/NOGROUP/.test((err as Error).message)) throw err;
      this.groupReady = undefined;
      await this.ready();
      return op();
    }
  }

  append(write: QueuedWrite): Promise<number> {
    if (this.closed)
      return Promise.reject(
        new CacheStoreError('writeBehind.append', write.key, new Error('the queue is closed')),
      );
    return this.appends.add(write);
  }

  /**
   * One script call for every append issued in the same tick: 16 concurrent writers cost one
   * round trip per batch instead of one each, on both sides. Each caller still resolves only
   * once Redis has run the script, so nothing is acknowledged before it is stored.
   */
  private async appendMany(writes: readonly QueuedWrite[]): Promise<number[]> {
    await this.ready();
    const args: string[] = [];
    for (const w of writes) args.push(w.entity, w.key, w.op, w.payload);
    const vs = await this.cmd.cachekitWbAppend(
      3 + writes.length,
      this.streamKey,
      this.seqKey,
      this.countKey,
      ...writes.map((w) => this.rec(w.key)),
      ...args,
    );
    await this.waitForReplicas();
    return vs.map(Number);
  }

  /** With `replicas`, waits for them to hold the appends; the write is not acknowledged otherwise. */
  private async waitForReplicas(): Promise<void> {
    if (this.replicas === 0) return;
    const acked = await (this.client as Redis).wait(this.replicas, this.replicaTimeoutMs);
    if (acked < this.replicas) {
      throw new CacheStoreError(
        'writeBehind.append',
        undefined,
        new Error(`only ${acked} of ${this.replicas} replicas confirmed within ${this.replicaTimeoutMs} ms`),
      );
    }
  }

  carries(store: Store): boolean {
    return store instanceof RedisStore && sameKeyspace(store.client, this.client);
  }

  appendShown(write: QueuedWrite, entry: CarriedWrite): Promise<AppendedShown> {
    if (this.closed)
      return Promise.reject(
        new CacheStoreError('writeBehind.append', write.key, new Error('the queue is closed')),
      );
    return this.shownAppends.add({ write, entry });
  }

  /** `appendMany` with each write's cache entry (see APPEND_SHOWN). */
  private async appendShownMany(items: readonly ShownAppend[]): Promise<AppendedShown[]> {
    await this.ready();
    const keys: FrameArg[] = [this.streamKey, this.seqKey, this.countKey];
    // The bus message rides along when every write is of one cache whose bus is on this server.
    const first = items[0].entry;
    const ann = first.announcer;
    const announce =
      ann !== undefined &&
      ann.bus instanceof RedisBus &&
      sameServer(ann.bus.client, this.client) &&
      items.every((i) => i.entry.announcer === ann && i.entry.seqKey === first.seqKey);
    const [head, tail] = announce ? ann.split(items.map((i) => i.entry)) : ['', ''];
    // One TTL for every tag version: the cache's (a queue serves one cache).
    const args: FrameArg[] = [first.versionTtlMs, announce ? ann.channel : '', head, tail];
    for (const { write: w, entry: e } of items) {
      keys.push(this.rec(w.key), e.key, e.seqKey);
      for (const b of e.bumpKeys) keys.push(b);
      args.push(w.entity, w.key, w.op === 'save' ? 'S' : 'R', w.payload, e.tail, e.ttlMs, e.bumpKeys.length);
    }
    const n = keys.length;
    for (const a of args) keys.push(a);
    // Carried writes need one keyspace: never a Cluster here.
    const r = (await APPEND_SHOWN_SCRIPT.call(this.client as Redis, n, keys)) as string[];
    await this.waitForReplicas();
    const out: AppendedShown[] = new Array(items.length);
    for (let i = 0; i < items.length; i++)
      out[i] = { version: Number(r[2 * i]), seq: Number(r[2 * i + 1]), announced: announce };
    return out;
  }

  async read(max: number, waitMs: number): Promise<QueueEntry[]> {
    if (this.closed) return [];
    // A blocking read holds its connection: it gets one of its own.
    this.reader ??= this.client.duplicate();
    const reader = this.reader;
    try {
      const r = (await this.withGroup(() =>
        reader.xreadgroup(
          'GROUP',
          this.group,
          this.consumer,
          'COUNT',
          max,
          'BLOCK',
          Math.max(1, Math.round(waitMs)),
          'STREAMS',
          this.streamKey,
          '>',
        ),
      )) as [string, RawEntry[]][] | null;
      return r === null ? [] : parseEntries(r[0][1]);
    } catch (err) {
      if (this.closed) return [];
      throw err;
    }
  }

  async reclaim(max: number): Promise<QueueEntry[]> {
    if (this.closed) return [];
    const r = (await this.withGroup(() =>
      this.client.xautoclaim(
        this.streamKey,
        this.group,
        this.consumer,
        this.claimIdleMs,
        this.reclaimCursor,
        'COUNT',
        max,
      ),
    )) as [string, RawEntry[], string[]?];
    this.reclaimCursor = r[0];
    return parseEntries(r[1]);
  }

  async keepAlive(entryIds: readonly string[]): Promise<void> {
    // Refreshing a third of the way into claimIdle is enough to never look dead.
    const now = Date.now();
    if (now - this.lastKeepAlive < this.claimIdleMs / 3 || entryIds.length === 0) return;
    this.lastKeepAlive = now;
    for (let i = 0; i < entryIds.length; i += 1000) {
      await this.client.xclaim(
        this.streamKey,
        this.group,
        this.consumer,
        0,
        ...entryIds.slice(i, i + 1000).map(streamId),
        'JUSTID',
      );
    }
  }

  async claim(keys: readonly string[]): Promise<ClaimResult[]> {
    const out: ClaimResult[] = [];
    for (let i = 0; i < keys.length; i += ROW_CHUNK) {
      const chunk = keys.slice(i, i + ROW_CHUNK);
      const items: FrameArg[] = [];
      for (const k of chunk) items.push(this.rec(k), this.lease(k));
      items.push(this.consumer, this.leaseMs);
      const r = await this.script<(number | string)[]>(
        CLAIM_SCRIPT,
        'cachekitWbClaim',
        2 * chunk.length,
        items,
      );
      for (const v of r) {
        if (v === 0) out.push('stale');
        else if (v === 2) out.push('busy');
        else out.push(parseRecord(String(v)) as PendingWrite);
      }
    }
    return out;
  }

  async release(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.cmd.cachekitWbRelease(keys.length, ...keys.map((k) => this.lease(k)), this.consumer);
  }

  async complete(entryIds: readonly string[], written: readonly RowVersion[]): Promise<Completion[]> {
    if (entryIds.length === 0 && written.length === 0) return [];
    const out: Completion[] = [];
    // In ROW_CHUNK-row calls, each acknowledging its share of the entries: every entry of the
    // batch is in the database already, so which call acknowledges it does not matter. If one
    // call fails, the rows stay held, and the next claim finds those already retired stale.
    const calls = Math.max(1, Math.ceil(written.length / ROW_CHUNK));
    const idsPerCall = Math.ceil(entryIds.length / calls);
    for (let c = 0; c < calls; c++) {
      const rows = written.slice(c * ROW_CHUNK, (c + 1) * ROW_CHUNK);
      const items: FrameArg[] = [this.streamKey, this.countKey];
      for (const x of rows) items.push(this.rec(x.key), this.lease(x.key));
      items.push(this.group, this.consumer, FLUSHED_MARKER_MS, rows.length);
      for (const x of rows) items.push(String(x.version));
      const end = c === calls - 1 ? entryIds.length : (c + 1) * idsPerCall;
      for (let i = c * idsPerCall; i < end; i++) items.push(entryIds[i]);
      const r = await this.script<number[]>(
        COMPLETE_SCRIPT,
        'cachekitWbComplete',
        2 + 2 * rows.length,
        items,
      );
      for (const v of r) out.push(v === 2 ? 'shown' : v === 1 ? 'retired' : 'newer');
    }
    return out;
  }

  confirm(rows: readonly RowVersion[]): Promise<(RowRecord | undefined)[]> {
    // Called once per save, by many writers at once: batched per tick.
    return Promise.all(rows.map((r) => this.confirms.add(r)));
  }

  private async confirmMany(rows: readonly RowVersion[]): Promise<(RowRecord | undefined)[]> {
    const r = await this.cmd.cachekitWbConfirm(
      rows.length,
      ...rows.map((x) => this.rec(x.key)),
      ...rows.map((x) => String(x.version)),
    );
    return r.map((v) => (typeof v === 'string' ? parseRecord(v) : undefined));
  }

  async deadLetter(letter: Omit<DeadLetter, 'id' | 'at'>): Promise<boolean> {
    const fields = [
      'e',
      letter.entity,
      'k',
      letter.key,
      'o',
      letter.op,
      'v',
      String(letter.version),
      'p',
      letter.payload,
      'err',
      letter.error,
      'n',
      String(letter.attempts),
      'ids',
      letter.entries.map(streamId).join(','),
      'at',
      String(Date.now()),
    ];
    const r = await this.cmd.cachekitWbDead(
      5,
      this.streamKey,
      this.deadKey,
      this.rec(letter.key),
      this.lease(letter.key),
      this.countKey,
      this.group,
      this.consumer,
      String(letter.version),
      this.maxDead,
      FLUSHED_MARKER_MS,
      fields.length,
      ...fields,
      ...letter.entries,
    );
    return r === 1;
  }

  async latest(keys: readonly string[]): Promise<(RowRecord | undefined)[]> {
    if (keys.length === 0) return [];
    const vs = await this.client.mget(...keys.map((k) => this.rec(k)));
    return vs.map((v) => (v === null ? undefined : parseRecord(v)));
  }

  async head(): Promise<string | undefined> {
    const r = (await this.client.xrevrange(this.streamKey, '+', '-', 'COUNT', 1)) as RawEntry[];
    return r.length === 0 ? undefined : r[0][0];
  }

  async settled(position: string): Promise<boolean> {
    const g = await this.groupState();
    if (g === undefined) return false;
    if (compareIds(g.lastDelivered, position) < 0) return false;
    return g.pending === 0 || compareIds(g.minPending!, position) > 0;
  }

  async depth(): Promise<QueueDepth> {
    const [g, count] = await Promise.all([this.groupState(), this.client.get(this.countKey)]);
    if (g === undefined) return { pending: 0, oldestAppendedAt: undefined };
    // The count covers every write appended by this release. A queue only ever written by an
    // earlier one (one write per entry, no count) is counted by its entries instead.
    const counted = count !== null;
    let lag = g.lag;
    let firstUndelivered: string | undefined;
    if (lag === undefined || lag > 0) {
      // Redis leaves lag unset when it cannot tell (after deletions): count what follows the cursor.
      const after = (await this.client.xrange(
        this.streamKey,
        `(${g.lastDelivered}`,
        '+',
        'COUNT',
        lag === undefined && !counted ? 10_000 : 1,
      )) as RawEntry[];
      firstUndelivered = after[0]?.[0];
      if (lag === undefined) lag = after.length;
    }
    const times = [g.minPending, firstUndelivered].filter((x): x is string => x !== undefined).map(idTime);
    return {
      pending: counted ? Math.max(0, Number(count)) : g.pending + lag,
      oldestAppendedAt: times.length === 0 ? undefined : Math.min(...times),
    };
  }

  /**
   * Trims acknowledged entries from the stream (below the oldest pending one and the group's
   * read cursor), so that it does not grow forever. The flusher calls it about once a second.
   */
  async compact(): Promise<void> {
    const g = await this.groupState();
    if (g === undefined) return;
    const next = nextId(g.lastDelivered);
    const minId = g.pending > 0 && compareIds(g.minPending!, next) < 0 ? g.minPending! : next;
    // Exact, not '~': only acknowledged entries go, and a short stream gets trimmed too.
    await this.client.xtrim(this.streamKey, 'MINID', minId);
  }

  async deadLetters(max = 100): Promise<DeadLetter[]> {
    const r = (await this.client.xrevrange(this.deadKey, '+', '-', 'COUNT', max)) as RawEntry[];
    return r.reverse().map(([id, f]) => {
      const m = fieldMap(f ?? []);
      return {
        id,
        entity: m.e ?? '',
        key: m.k ?? '',
        op: m.o as WriteOp,
        version: Number(m.v),
        payload: m.p ?? '',
        error: m.err ?? '',
        attempts: Number(m.n),
        entries: m.ids ? m.ids.split(',') : [],
        at: Number(m.at),
      };
    });
  }

  /** Every key this queue wrote that may outlive its entries (for tests and tear-down). */
  fixedKeys(): string[] {
    return [this.streamKey, this.deadKey, this.seqKey, this.countKey];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Ends a blocked XREADGROUP at once. A connection already ended needs nothing (ioredis
    // would arm a 2 s timer for it).
    if (this.reader !== undefined && this.reader.status !== 'end') this.reader.disconnect();
    if (!this.owned) return;
    await closeClient(this.client);
  }

  /** The group's read cursor, pending count and oldest pending ID; `undefined` before it exists. */
  private async groupState(): Promise<
    | { lastDelivered: string; pending: number; minPending: string | undefined; lag: number | undefined }
    | undefined
  > {
    await this.ready();
    const res = await this.client
      .pipeline()
      .xinfo('GROUPS', this.streamKey)
      .xpending(this.streamKey, this.group)
      .exec();
    if (res === null) return undefined;
    const [[e1, groups], [e2, pending]] = res as [[Error | null, unknown[][]], [Error | null, unknown[]]];
    if (e1 || e2) {
      if (/NOGROUP|no such key/i.test(String((e1 ?? e2)!.message))) return undefined;
      throw e1 ?? e2;
    }
    const info = groups.map((g) => fieldMap(g as string[])).find((g) => g.name === this.group);
    if (info === undefined) return undefined;
    const lag = (info as Record<string, unknown>).lag;
    return {
      lastDelivered: String(info['last-delivered-id']),
      pending: Number(pending[0]),
      minPending: (pending[1] as string | null) ?? undefined,
      lag: lag === null || lag === undefined ? undefined : Number(lag),
    };
  }
}

function positiveInt(option: string, v: number | undefined, def: number): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < 1)
    throw new CacheConfigError(option, v, 'expected a whole number, 1 or more');
  return v;
}

function fieldMap(flat: readonly unknown[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) m[String(flat[i])] = flat[i + 1] as string;
  return m;
}

/**
 * The writes of stream entries. An entry of this release names several writes ("n" first, then
 * e/k/v per write) and each of them gets the ID "<stream ID>#<n>": the flusher acknowledges it
 * once all n are done, and the count tells the script how many writes that takes off the
 * pending count. An entry of an earlier release is one write, under its bare ID.
 */
function parseEntries(raw: readonly RawEntry[]): QueueEntry[] {
  const out: QueueEntry[] = [];
  for (const [sid, fields] of raw) {
    // XAUTOCLAIM reports entries trimmed meanwhile with no fields; nothing to write for them.
    if (fields === null) continue;
    const appendedAt = idTime(sid);
    if (fields[0] !== 'n') {
      const m = fieldMap(fields);
      out.push({ id: sid, entity: m.e, key: m.k, version: Number(m.v), appendedAt });
      continue;
    }
    const id = `${sid}#${fields[1]}`;
    for (let i = 2; i + 5 < fields.length; i += 6)
      out.push({ id, entity: fields[i + 1], key: fields[i + 3], version: Number(fields[i + 5]), appendedAt });
  }
  return out;
}

/** The stream entry ID of a write's entry ID (see parseEntries). */
function streamId(entryId: string): string {
  const i = entryId.indexOf('#');
  return i < 0 ? entryId : entryId.slice(0, i);
}

function parseRecord(rec: string): RowRecord {
  const a = rec.indexOf('|');
  const o = rec.charAt(a + 1);
  if (o === '~') return { flushed: true, version: Number(rec.slice(0, a)) };
  const op: WriteOp = o === 's' || o === 'S' ? 'save' : 'remove';
  return { version: Number(rec.slice(0, a)), op, payload: rec.slice(a + 3) };
}

/** The millisecond part of a stream entry ID. */
function idTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

function splitId(id: string): [bigint, bigint] {
  const i = id.indexOf('-');
  return i < 0 ? [BigInt(id), 0n] : [BigInt(id.slice(0, i)), BigInt(id.slice(i + 1))];
}

/** Orders two stream entry IDs. */
function compareIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/** The smallest ID after `id`. */
function nextId(id: string): string {
  const [m, s] = splitId(id);
  return `${m}-${s + 1n}`;
}
