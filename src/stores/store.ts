import type { DecodedEntry } from '../engine/entry';
import type { Bus } from './bus';

/** Result of a validated L2 read. */
export type L2Read =
  /**
   * A current entry; `remainingMs` is its remaining TTL, used to fill L1 without extending it.
   * `entry` is the data already split into header and payload, when the store had to do it.
   */
  | {
      readonly kind: 'hit';
      readonly data: Buffer;
      readonly remainingMs: number;
      readonly entry?: DecodedEntry;
    }
  /** No entry. `seq` is the current invalidation sequence when the store could read it in the same trip. */
  | { readonly kind: 'miss'; readonly seq: number | undefined }
  /** An entry exists but one of its tags was invalidated after it was loaded. */
  | {
      readonly kind: 'stale';
      readonly seq: number | undefined;
      readonly data: Buffer;
      readonly remainingMs: number;
    };

/** A raw L2 value with its remaining TTL in ms (`Infinity` when the store keeps no TTL). */
export interface StoredValue {
  readonly data: Buffer;
  readonly remainingMs: number;
}

/**
 * The L2 contract. Keys arrive fully prefixed; a store knows nothing of namespaces or of what tags
 * mean. It keeps bytes with a TTL and monotonic version numbers for invalidation.
 */
export interface Store {
  /** Short name for stats, events and errors, e.g. `redis` or `keyv`. */
  readonly name: string;
  /** Reads one entry's bytes and remaining TTL. */
  get(key: string): Promise<StoredValue | undefined>;
  /** Writes one entry with a TTL in ms. */
  set(key: string, data: Buffer, ttlMs: number): Promise<void>;
  /** Deletes entries. */
  delete(keys: readonly string[]): Promise<void>;
  /** Resets an entry's TTL (sliding expiration). */
  touch(key: string, ttlMs: number): Promise<void>;
  /** Current versions of tag keys; a missing version reads as 0. */
  getVersions(keys: readonly string[]): Promise<number[]>;
  /**
   * The invalidation sequence to capture before a loader runs. An entry stays valid while every
   * one of its tags' versions is at most this number.
   */
  captureSeq(seqKey: string): Promise<number>;
  /**
   * Gives every tag key a version greater than any sequence captured before this call, and
   * returns it. Version keys expire after `versionTtlMs`, which outlives every entry.
   */
  invalidate(seqKey: string, tagKeys: readonly string[], versionTtlMs: number): Promise<number>;
  /**
   * Optional fast path: read the entry and check its tag versions server-side in one round trip.
   * Stores without it get the same behaviour from `get` + `getVersions`. `needTtl` false lets
   * the store skip the remaining TTL (the caller has no L1 to fill).
   */
  readValidated?(key: string, seqKey: string, needTtl?: boolean): Promise<L2Read>;
  /** Optional: `touch`, but only while the entry's tags are still current. */
  touchValidated?(key: string, ttlMs: number): Promise<void>;
  /** Optional: a bus for L1 invalidation across instances, used by default when the cache has an L1. */
  createBus?(): Bus;
  /** Optional: a lock shared by every process, so that one of them loads a cold key (stampede protection). */
  readonly locks?: StoreLocks;
  /** Releases connections the store opened itself. */
  close(): Promise<void>;
}

/**
 * A cross-process lock per key. A holder that dies loses the lock when its TTL runs out; waiters
 * learn of a release by notification where the store has one, by polling otherwise.
 */
export interface StoreLocks {
  /** Takes the lock for `key` for `ttlMs`; resolves a token, or undefined when another holder has it. */
  acquire(key: string, ttlMs: number): Promise<string | undefined>;
  /** Releases the lock if `token` still holds it (compare-and-delete), and wakes the waiters. */
  release(key: string, token: string): Promise<void>;
  /**
   * Resolves true once the lock for `key` is released or expires, false when `timeoutMs` passes
   * first. May resolve early (a missed notification is covered by polling); callers re-check.
   */
  waitForRelease(key: string, timeoutMs: number): Promise<boolean>;
  /** Stops listening for releases; pending waits resolve false. */
  close(): Promise<void>;
}
