/** Base class of every error cachekit throws or emits, so callers can catch them all at once. */
export class CacheError extends Error {
  override name = 'CacheError';
}

/** An option has a value cachekit cannot use; `option` names it (e.g. `ttl`, `l1.maxBytes`). */
export class CacheConfigError extends CacheError {
  override name = 'CacheConfigError';
  constructor(
    /** Dotted path of the offending option. */
    readonly option: string,
    /** What was passed. */
    readonly value: unknown,
    /** Why it is wrong, in words a user can act on. */
    readonly reason: string,
  ) {
    super(`Invalid option "${option}" (${describe(value)}): ${reason}`);
  }
}

/**
 * Code tried to change a Date inside a value the cache handed out. Such Dates are shared by
 * every hit and read-only (see `L1Options.copyDates`); `method` names the setter called.
 */
export class CacheReadonlyError extends CacheError {
  override name = 'CacheReadonlyError';
  constructor(
    /** The Date method that was called, e.g. `setFullYear`. */
    readonly method: string,
  ) {
    super(
      `Cannot call Date#${method} on a Date of a cached value: such Dates are shared by every cache hit and read-only. ` +
        'Copy it first (new Date(value)), or set l1.copyDates: true to get a private copy on each hit.',
    );
  }
}

/** A key or key argument cannot be turned into a stable cache key; `path` says which argument. */
export class CacheKeyError extends CacheError {
  override name = 'CacheKeyError';
  constructor(
    /** Where in the key input the problem is, e.g. `args[1].filter`. */
    readonly path: string,
    readonly reason: string,
  ) {
    super(`Cannot build a cache key from ${path}: ${reason}`);
  }
}

/** A value could not be serialized or deserialized; the caller still gets its result, it is just not cached. */
export class CacheSerializationError extends CacheError {
  override name = 'CacheSerializationError';
  constructor(
    /** The cache key concerned, when known. */
    readonly key: string | undefined,
    /** Where in the value the problem is, e.g. `value.owner.callback`. */
    readonly path: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot serialize${key ? ` key "${key}"` : ''} at ${path}: ${reason}`, options);
  }
}

/** An L2 operation or a loader did not finish within its time limit. */
export class CacheTimeoutError extends CacheError {
  override name = 'CacheTimeoutError';
  constructor(
    /** What timed out, e.g. `l2.get` or `loader`. */
    readonly operation: string,
    readonly timeoutMs: number,
    readonly key?: string,
  ) {
    super(`${operation} timed out after ${timeoutMs} ms${key ? ` for key "${key}"` : ''}`);
  }
}

/** A cache with required tenancy was called with no tenant in context (see `runWithTenant`). */
export class CacheTenantError extends CacheError {
  override name = 'CacheTenantError';
  constructor(readonly operation: string) {
    super(`${operation} needs a tenant: call it inside runWithTenant(id, …) or give tenancy.resolve`);
  }
}

/** An L2 store failed; wraps the driver's error so events and stats can say which store and operation. */
export class CacheStoreError extends CacheError {
  override name = 'CacheStoreError';
  constructor(
    readonly operation: string,
    readonly key: string | undefined,
    cause: unknown,
  ) {
    super(
      `L2 ${operation}${key ? ` of "${key}"` : ''} failed: ${(cause as Error)?.message ?? String(cause)}`,
      {
        cause,
      },
    );
  }
}

/** A write-behind write was refused at call time (no primary key, write-behind closed…); nothing was queued. */
export class CacheWriteError extends CacheError {
  override name = 'CacheWriteError';
  constructor(
    /** The entity written, when known. */
    readonly entity: string | undefined,
    readonly reason: string,
  ) {
    super(`Cannot write${entity ? ` ${entity}` : ''} behind: ${reason}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  try {
    return String(value);
  } catch {
    return typeof value;
  }
}
