import type { Bus } from '../stores/bus';
import type { Store } from '../stores/store';
import type { CacheStack } from './cache_stack';
import type { ResolvedEntry } from './options';
import { jsonSerializer } from './serializer';
import { draftBytes, draftEntry, type EntryKeys, fillDraft, type Scope } from './two_tier_handler';

/*
 * Why: a write-behind save used to write its cache entry in a second step after the queue
 * append, then read a version and confirm the entry to the queue: three round trips and most of
 * the save's CPU. When the queue lives in the same Redis keyspace as the cache's L2, the append
 * script can store the entry itself, in the same atomic step as the write's record, so the
 * entry always shows the newest appended write without any convergence afterwards.
 */

/** The length of `ck2 US 0`, the head of an entry stamped with sequence 0 (see entry.ts). */
const SEQ0_HEAD = 5;

/**
 * Builds the L1-bus message of several carried writes of one cache, for a carrier that can
 * publish it in the same step as it stores them: other instances then learn of the writes
 * without a PUBLISH of this process's own.
 */
export interface Announcer {
  /** The cache's bus: a carrier publishes only on the Redis server this bus publishes on. */
  readonly bus: Bus;
  /** The bus channel. */
  readonly channel: string;
  /** The message's text before and after its sequence number (the carrier knows the number). */
  split(writes: readonly CarriedWrite[]): readonly [string, string];
}

/** A cache entry whose L2 write is carried by another store's script (the write-behind append). */
export interface CarriedWrite {
  /** The entry's L2 key. */
  readonly key: string;
  /** The entry's L1 key: other instances drop their copy of it. */
  readonly l1Key: string;
  /**
   * The value's tagged JSON (`jsonSerializer`), when that is what the cache serialized it with:
   * the write-behind queue stores the same text, and need not encode the row a second time.
   */
  readonly json: Buffer | undefined;
  /** The cache's L1 bus, when it has one (see `Announcer`). */
  readonly announcer: Announcer | undefined;
  /** The cache's invalidation sequence key: the carrier stamps the entry with its value. */
  readonly seqKey: string;
  /** The entry's bytes after `ck2 US <seq>`; the carrier stores `ck2 US <seq>` followed by these. */
  readonly tail: Buffer;
  /** The entry's L2 lifetime in ms. */
  readonly ttlMs: number;
  /**
   * Tag-version keys the carrier sets to `seq` (after incrementing the sequence) before it stores
   * the entry: whatever depends on the row and was loaded before the write becomes stale.
   */
  readonly bumpKeys: readonly string[];
  /** Lifetime of those tag versions, in ms. */
  readonly versionTtlMs: number;
  /**
   * After the carrier stored the entry stamped with `seq`: fills L1, counts, and tells other
   * instances, unless the carrier published the bus message itself (`announced`).
   */
  done(seq: number, announced: boolean): void;
}

/**
 * Prepares `value` for a carried write to `keys` (bumping the tag names `bump`), or `undefined`
 * when the cache cannot hand its L2 write over (no L2, an unreachable one, one `accepts`
 * refuses) or the value is not to be cached; the caller then writes through `cache.set`.
 */
export function carriedWrite(
  stack: CacheStack,
  scope: Scope,
  keys: EntryKeys,
  value: unknown,
  settings: ResolvedEntry,
  tags: readonly string[] | undefined,
  bump: readonly string[],
  accepts: (store: Store) => boolean,
): CarriedWrite | undefined {
  const store = stack.l2;
  if (store === undefined || stack.closed || !stack.l2Healthy || !accepts(store)) return undefined;
  const d = draftEntry(stack, scope, keys.full, value, settings, undefined, 0, tags);
  if (d === undefined) return undefined;
  const bytes = draftBytes(stack, d, value, 0);
  // The head is fixed by the entry format; anything else means the format moved on.
  if (bytes[SEQ0_HEAD - 1] !== 0x30 || bytes[SEQ0_HEAD] !== 0x1f) return undefined;
  const bumpKeys = bump.map((t) => scope.tagPrefix + t);
  return {
    key: keys.full,
    l1Key: keys.l1,
    json:
      stack.codecOf(value) === jsonSerializer.name && stack.serializer === jsonSerializer
        ? d.payload
        : undefined,
    announcer: stack.sync?.announcer,
    seqKey: stack.seqKey,
    tail: bytes.subarray(SEQ0_HEAD),
    ttlMs: Math.max(1, Math.ceil(d.life)),
    bumpKeys,
    versionTtlMs: Math.ceil(stack.tagVersionTtl),
    done(seq: number, announced: boolean) {
      // As after an invalidation: this process's L1 drops what depends on the row at once.
      stack.stats.invalidations += bumpKeys.length;
      for (const k of bumpKeys) stack.mirror.note(k, seq);
      stack.mirror.observeSeq(seq);
      fillDraft(stack, keys.l1, d, seq);
      stack.events.emit('set', { key: keys.full, ttlMs: d.ttl });
      // Other instances learn both: the bumped tags, and that their L1 copy of the row is old.
      if (!announced) stack.sync?.publishWrite(bumpKeys, seq, keys.l1);
    },
  };
}
