import { CacheConfigError } from '../errors';
import { type Duration, parseDuration } from './duration';
import { isHeaderSafe } from './entry';
import { TAG_RULE } from './options';

/** Handed to every loader: lets it shape the entry it is producing. */
export interface LoadContext {
  /** The full cache key being loaded. */
  readonly key: string;
  /** Overrides the entry's TTL, e.g. from an HTTP `max-age` the loader saw. */
  setTtl(ttl: Duration): void;
  /**
   * Adds tags found while loading. Safe even though they are learned late: the entry's
   * invalidation sequence was captured before the loader started.
   */
  addTags(...tags: string[]): void;
  /** Returns the loaded value to its callers without caching it (e.g. a partial result). */
  doNotCache(): void;
}

/** What the load scope holds: the context integrations see, plus the engine's own door for nested entries. */
export interface CaptureView extends LoadContext {
  /**
   * Adds the full tag keys of a cached entry this load used (a nested cached call): the entry
   * being built depends on everything that one depends on.
   */
  addTagKeys(keys: readonly string[]): void;
}

/** The concrete context; its fields are read by the engine after the loader settles. */
export class LoadContextImpl implements LoadContext {
  ttl: number | undefined;
  tags: string[] | undefined;
  /** Row tags the loader declared itself (not captured from what it read): event id matching uses them. */
  declared: string[] | undefined;
  skip = false;
  /** Full tag keys of nested cached entries the loader used, kept as they are. */
  tagKeys: string[] | undefined;

  constructor(readonly key: string) {}

  setTtl(ttl: Duration): void {
    this.ttl = parseDuration('ctx.setTtl', ttl, true);
  }

  addTags(...tags: string[]): void {
    this.captureTags(tags);
    for (const t of tags) if (t.startsWith('row:')) (this.declared ??= []).push(t);
  }

  /** Adds tags an integration captured from what the loader read (see `captureView`). */
  captureTags(tags: readonly string[]): void {
    for (const t of tags) {
      if (typeof t !== 'string' || t === '' || !isHeaderSafe(t))
        throw new CacheConfigError('ctx.addTags', t, TAG_RULE);
    }
    (this.tags ??= []).push(...tags);
  }

  /**
   * The context integrations see through `currentLoad()`: tags they add count as captured
   * dependencies, which a list reads too, so they must not mark the entry as being about a row.
   */
  captureView(): CaptureView {
    return {
      key: this.key,
      setTtl: (ttl) => this.setTtl(ttl),
      addTags: (...tags) => this.captureTags(tags),
      doNotCache: () => this.doNotCache(),
      addTagKeys: (keys) => {
        (this.tagKeys ??= []).push(...keys);
      },
    };
  }

  doNotCache(): void {
    this.skip = true;
  }
}
