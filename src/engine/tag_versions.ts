import type { L1Entry } from './entry';

/**
 * This process's view of tag versions: what L1 checks entries against, without any I/O.
 *
 * Versions come from the L2's invalidation sequence (or a local counter when there is no L2).
 * The map is bounded; when a tag is forgotten its version is folded into `floor`, and unknown
 * tags are assumed to be at `floor`. That can only make entries look older, never newer, so
 * forgetting costs hits, never correctness.
 */
export class TagMirror {
  private readonly versions = new Map<string, number>();
  private floor = 0;
  /** Highest version known: an entry whose sequence is at least this is current without a lookup. */
  max = 0;
  private localSeq = 0;

  constructor(private readonly maxTags: number) {}

  /** Records that `tagKey` is at `version` (versions only move forward). */
  note(tagKey: string, version: number): void {
    const current = this.versions.get(tagKey);
    if (current !== undefined && current >= version) return;
    // Delete-then-set moves the key to the young end of the Map's insertion order.
    if (current !== undefined) this.versions.delete(tagKey);
    this.versions.set(tagKey, version);
    if (version > this.max) this.max = version;
    if (version > this.localSeq) this.localSeq = version;
    if (this.versions.size > this.maxTags) this.forgetOldest();
  }

  /** Whether an L1 entry is still current with respect to every tag it depends on. */
  isCurrent(entry: L1Entry): boolean {
    const seq = entry.seq;
    if (seq >= this.max) return true;
    const tags = entry.tags;
    if (tags === undefined) return true;
    for (let i = 0; i < tags.length; i++) {
      const v = this.versions.get(tags[i]) ?? this.floor;
      if (v > seq) return false;
    }
    return true;
  }

  /** The capture point for a memory-only cache. */
  captureLocal(): number {
    return this.localSeq;
  }

  /** Allocates a new version for a memory-only invalidation. */
  nextLocal(): number {
    return ++this.localSeq;
  }

  /** Notes a sequence seen from L2, so that local invalidation fallbacks stay above it. */
  observeSeq(seq: number): void {
    if (seq > this.localSeq) this.localSeq = seq;
  }

  /** Number of tags remembered. */
  get size(): number {
    return this.versions.size;
  }

  private forgetOldest(): void {
    const oldest = this.versions.keys().next();
    if (oldest.done) return;
    const v = this.versions.get(oldest.value)!;
    this.versions.delete(oldest.value);
    if (v > this.floor) this.floor = v;
  }
}
