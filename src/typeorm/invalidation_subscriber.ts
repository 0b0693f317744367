import type {
  AfterQueryEvent,
  DataSource,
  EntityMetadata,
  EntitySubscriberInterface,
  InsertEvent,
  LoadEvent,
  ObjectLiteral,
  QueryRunner,
  RecoverEvent,
  RemoveEvent,
  SoftRemoveEvent,
  TransactionCommitEvent,
  TransactionRollbackEvent,
  TransactionStartEvent,
  UpdateEvent,
} from 'typeorm';
import type { Cache } from '../cache';
import { anyRowTag, rowTag, tableTag } from '../tags/naming';
import { currentLoad, watchLoads } from '../engine/load_scope';
import { generatesIncrementIds, insertIdsMayBeGuessed } from './auto_increment';
import { commitsDdl, commitsImplicitly } from './implicit_commit';
import { isUpsert, readTables, writtenTables } from './sql_writes';
import { writeBehindFlushOf } from './write_behind_marker';
import { sqlWriteKinds, type WriteKind, writeEventName } from './write_events';
import { encodeId } from '../engine/domain_events';

/** Options of the invalidation subscriber. */
export interface InvalidationOptions {
  /** Told about a failed invalidation (already counted and emitted on the cache's `error` event). */
  onError?: (error: unknown) => void;
}

type WriteEvent =
  | InsertEvent<ObjectLiteral>
  | UpdateEvent<ObjectLiteral>
  | RemoveEvent<ObjectLiteral>
  | SoftRemoveEvent<ObjectLiteral>
  | RecoverEvent<ObjectLiteral>;

/**
 * Invalidates cache tags for every entity write, after the write commits and never on rollback.
 *
 * TypeORM fires `after*` hooks before COMMIT (even for inserts that will roll back), so tags are
 * buffered per query runner, in one frame per transaction level: a released savepoint merges its
 * frame into the parent, a rolled-back one drops it, the outermost commit flushes them all.
 * Writes outside a transaction (`repo.update` and QueryBuilder writes run without one by default)
 * are already committed when their hook runs, and are flushed at once.
 *
 * Every write bumps its table's tag (read by queries). A write whose row ids are known also
 * bumps those rows' tags; one whose rows are unknown bumps the entity's any-row tag instead,
 * which every by-id entry carries. Over-invalidation is safe; a missed one would be the bug.
 *
 * With the tags go the domain events `<entity>.inserted|updated|deleted` (see `writeEventName`),
 * with the ids the write names, for policies wired by `invalidateOn`: bumped in the same call.
 */
export class CacheInvalidationSubscriber implements EntitySubscriberInterface<ObjectLiteral> {
  private readonly frames = new WeakMap<QueryRunner, Frame[]>();
  /**
   * Tables an entity operation is writing right now, per query runner. TypeORM broadcasts
   * before* before its SQL and after* after it; the SQL in between is covered by the entity
   * hook (with row precision), so afterQuery must not treat it as a raw write.
   */
  private readonly inEntityWrite = new WeakMap<QueryRunner, Map<string, number>>();
  /**
   * Query runners whose transaction MySQL/MariaDB committed implicitly (DDL): until TypeORM
   * ends it, each statement commits on its own and is invalidated at once.
   */
  private readonly autocommitting = new WeakSet<QueryRunner>();
  /** Writes outside a transaction in this tick, flushed together at its end (`flushThisTick`). */
  private tick: { frame: Frame; done: Promise<void> } | undefined;

  constructor(
    private readonly cache: Cache,
    private readonly options: InvalidationOptions = {},
  ) {
    // Read-dependency capture reads the load scope from afterLoad/afterQuery.
    watchLoads();
  }

  /** Whether `qr` is inside a transaction that has written: its reads must bypass the cache. */
  hasPendingWrites(qr: QueryRunner | undefined): boolean {
    if (qr === undefined || !qr.isTransactionActive) return false;
    const frames = this.frames.get(qr);
    return frames !== undefined && frames.some((f) => f.tags.size > 0);
  }

  beforeInsert(event: InsertEvent<ObjectLiteral>): void {
    this.mark(event.queryRunner, event.metadata, 1);
  }

  beforeUpdate(event: UpdateEvent<ObjectLiteral>): void {
    this.mark(event.queryRunner, event.metadata, 1);
  }

  beforeRemove(event: RemoveEvent<ObjectLiteral>): void {
    this.mark(event.queryRunner, event.metadata, 1);
  }

  beforeSoftRemove(event: SoftRemoveEvent<ObjectLiteral>): void {
    this.mark(event.queryRunner, event.metadata, 1);
  }

  beforeRecover(event: RecoverEvent<ObjectLiteral>): void {
    this.mark(event.queryRunner, event.metadata, 1);
  }

  /**
   * Raw SQL writes (`dataSource.query('UPDATE …')`), junction-table writes of many-to-many
   * relations, and QueryBuilder writes with listeners off: no entity hook sees them, so their
   * tables are read from the SQL and invalidated whole.
   */
  afterQuery(event: AfterQueryEvent): Promise<void> | void {
    const qr = event.queryRunner;
    if (qr === undefined) return;
    // The commit comes before the statement runs, so a failed DDL has committed too.
    if (qr.isTransactionActive && commitsDdl(event.connection) && commitsImplicitly(event.query)) {
      return this.commitImplicitly(qr).then(() => this.afterStatement(event));
    }
    return this.afterStatement(event);
  }

  private afterStatement(event: AfterQueryEvent): Promise<void> | void {
    if (!event.success || event.queryRunner === undefined) return;
    try {
      const tables = writtenTables(event.query, tablesOf(event.connection));
      if (tables.length === 0) {
        captureRead(event);
        return;
      }
      const busy = this.inEntityWrite.get(event.queryRunner);
      // An upsert may update rows the entity hook cannot name (TypeORM reports a guessed id for
      // it), so it always counts as a write to unknown rows.
      const upsert = isUpsert(event.query);
      const flushing = writeBehindFlushOf(event.queryRunner);
      const tags: string[] = [];
      const events: WriteEvents = new Map();
      for (const t of tables) {
        if (busy?.get(t.tableName) && !upsert) continue;
        const kinds = sqlWriteKinds(event.query, upsert);
        for (const k of kinds) addEvent(events, writeEventName(t.name, k), null);
        if (kinds.includes('deleted')) {
          for (const child of cascadeChildren(event.connection, t)) childEvents(events, child);
        }
        // A write-behind flush: the rows' cached entries already hold their newest state (the
        // flusher checks versions after the commit); only query results over the table changed.
        tags.push(tableTag(t.name), ...(flushing?.has(t.name) ? [] : [anyRowTag(t.name)]));
        for (const child of cascadeChildren(event.connection, t))
          tags.push(tableTag(child), anyRowTag(child));
      }
      if (tags.length > 0) return this.route(event.queryRunner, tags, [], events);
    } catch (err) {
      this.options.onError?.(err);
    }
  }

  /** Read-dependency capture: a row loaded while a cached loader runs tags its entry. */
  afterLoad(entity: ObjectLiteral, event?: LoadEvent<ObjectLiteral>): void {
    const load = currentLoad();
    if (load === undefined || event?.metadata === undefined) return;
    try {
      const m = event.metadata;
      const id = m.getEntityIdMixedMap(entity);
      const tags = [tableTag(m.name), anyRowTag(m.name)];
      if (id !== undefined && id !== null) tags.push(rowTagOf(m, id));
      load.addTags(...tags);
    } catch (err) {
      this.options.onError?.(err);
    }
  }

  afterInsert(event: InsertEvent<ObjectLiteral>): Promise<void> {
    if (!generatesIncrementIds(event.connection, event.metadata))
      return this.record(event, 'inserted', [event.entity]);
    return insertIdsMayBeGuessed(event.connection, event.metadata, event.queryRunner).then(
      (guessed) => this.record(event, 'inserted', [event.entity], undefined, false, guessed),
      (err: unknown) => {
        this.options.onError?.(err);
        return this.record(event, 'inserted', [event.entity], undefined, false, true);
      },
    );
  }

  afterUpdate(event: UpdateEvent<ObjectLiteral>): Promise<void> {
    return this.record(event, 'updated', [event.databaseEntity, event.entity]);
  }

  afterRemove(event: RemoveEvent<ObjectLiteral>): Promise<void> {
    // Only a real DELETE fires the database's ON DELETE actions (a soft remove is an UPDATE).
    return this.record(event, 'deleted', [event.databaseEntity, event.entity], event.entityId, true);
  }

  afterSoftRemove(event: SoftRemoveEvent<ObjectLiteral>): Promise<void> {
    // Gone from the application's view: a deletion to listeners.
    return this.record(event, 'deleted', [event.databaseEntity, event.entity], event.entityId);
  }

  afterRecover(event: RecoverEvent<ObjectLiteral>): Promise<void> {
    // Back in the application's view: an insertion to listeners.
    return this.record(event, 'inserted', [event.databaseEntity, event.entity], event.entityId);
  }

  afterTransactionStart(event: TransactionStartEvent): void {
    const qr = event.queryRunner;
    if (depthOf(qr) <= 1) this.autocommitting.delete(qr);
    const frames = this.framesOf(qr);
    // transactionDepth is already the new level here: one frame per open level.
    while (frames.length < depthOf(qr)) frames.push(new Frame());
  }

  async afterTransactionCommit(event: TransactionCommitEvent): Promise<void> {
    const qr = event.queryRunner;
    if (!qr.isTransactionActive) this.autocommitting.delete(qr);
    const frames = this.frames.get(qr);
    if (frames === undefined) return;
    const level = depthOf(qr); // the level that just committed, counted from 0
    if (level > 0 && qr.isTransactionActive) {
      // RELEASE SAVEPOINT: its writes now belong to the enclosing transaction.
      const done = frames.splice(level);
      for (const f of done) frames[level - 1]?.absorb(f);
      return;
    }
    const all = new Frame();
    for (const f of frames) all.absorb(f);
    this.frames.delete(qr);
    await this.flush([...all.tags], all.rows.values(), all.events);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    const qr = event.queryRunner;
    // A failed statement may have left a before* mark without its after*.
    if (!qr.isTransactionActive) {
      this.inEntityWrite.delete(qr);
      this.autocommitting.delete(qr);
    }
    const frames = this.frames.get(qr);
    if (frames === undefined) return;
    if (!qr.isTransactionActive) this.frames.delete(qr);
    else frames.splice(depthOf(qr)); // ROLLBACK TO SAVEPOINT: drop that level's writes
  }

  /** The database committed every open level: flush them all, and every later write at once. */
  private async commitImplicitly(qr: QueryRunner): Promise<void> {
    this.autocommitting.add(qr);
    const frames = this.frames.get(qr);
    if (frames === undefined) return;
    this.frames.delete(qr);
    const all = new Frame();
    for (const f of frames) all.absorb(f);
    await this.flush([...all.tags], all.rows.values(), all.events);
  }

  private mark(qr: QueryRunner | undefined, metadata: EntityMetadata | undefined, delta: number): void {
    if (qr === undefined || metadata === undefined) return;
    let m = this.inEntityWrite.get(qr);
    if (m === undefined) this.inEntityWrite.set(qr, (m = new Map()));
    const n = (m.get(metadata.tableName) ?? 0) + delta;
    if (n > 0) m.set(metadata.tableName, n);
    else m.delete(metadata.tableName);
  }

  private framesOf(qr: QueryRunner): Frame[] {
    let frames = this.frames.get(qr);
    if (frames === undefined) this.frames.set(qr, (frames = []));
    return frames;
  }

  private async record(
    event: WriteEvent,
    kind: WriteKind,
    entities: (ObjectLiteral | undefined)[],
    entityId?: unknown,
    deletes = false,
    idsGuessed = false,
  ): Promise<void> {
    this.mark(event.queryRunner, event.metadata, -1);
    try {
      // Same as in afterQuery: a write-behind flush's row entries are the flusher's to keep.
      const flushed = writeBehindFlushOf(event.queryRunner)?.has(event.metadata.name);
      const written = tagsOf(event.metadata, entities, entityId);
      const { tags, ids } = flushed ? { tags: [tableTag(event.metadata.name)], ids: [] } : written;
      // The ids may name other rows than those written: any row may be new.
      if (idsGuessed && !flushed) tags.push(anyRowTag(event.metadata.name));
      const events: WriteEvents = new Map();
      addEvent(
        events,
        writeEventName(event.metadata.name, kind),
        written.ids.length > 0 && !idsGuessed ? written.ids : null,
      );
      if (deletes) {
        for (const child of cascadeChildren(event.connection, event.metadata)) {
          tags.push(tableTag(child), anyRowTag(child));
          childEvents(events, child);
        }
      }
      const rows = ids.map((id) => ({
        dataSource: event.connection,
        metadata: event.metadata,
        id,
        removed: deletes,
      }));
      await this.route(event.queryRunner, tags, rows, events);
    } catch (err) {
      // Never out of a hook: a cache failure must not turn a committed write into an error.
      this.options.onError?.(err);
    }
  }

  /** Buffers tags in the open transaction level, or flushes them when there is none. */
  private async route(
    qr: QueryRunner,
    tags: string[],
    rows: readonly WrittenRow[],
    events: WriteEvents,
  ): Promise<void> {
    const depth = depthOf(qr);
    if (qr.isTransactionActive && depth > 0 && !this.autocommitting.has(qr)) {
      const frames = this.framesOf(qr);
      while (frames.length < depth) frames.push(new Frame());
      frames[depth - 1].add(tags, rows, events);
      return;
    }
    await this.flushThisTick(tags, rows, events);
  }

  /**
   * Flushes writes made outside a transaction together with the others of the same tick, and
   * resolves when they are flushed. TypeORM fires one event per row of a statement, so a
   * 1,000-row insert used to make 1,000 invalidations, each its own script and bus message to
   * every instance; it now makes one. The statement's promise still waits for it.
   */
  private flushThisTick(tags: string[], rows: readonly WrittenRow[], events: WriteEvents): Promise<void> {
    let tick = this.tick;
    if (tick === undefined) {
      const frame = new Frame();
      const done = new Promise<void>((resolve) =>
        // After the microtasks of this tick: the events of one statement come in one run of them.
        process.nextTick(() => {
          this.tick = undefined;
          resolve(this.flush([...frame.tags], frame.rows.values(), frame.events));
        }),
      );
      this.tick = tick = { frame, done };
    }
    tick.frame.add(tags, rows, events);
    return tick.done;
  }

  private async flush(tags: string[], rows: Iterable<WrittenRow>, events: WriteEvents): Promise<void> {
    if (tags.length === 0) return;
    try {
      // One bump for the write's tags and its events' tags: one round trip, one bus message.
      const all = [...tags];
      for (const [name, ids] of events) {
        const payload = ids === null ? undefined : { ids: [...ids.values()] };
        all.push(...this.cache.domainEventTags(name, payload));
      }
      await this.cache.invalidateTags(all);
    } catch (err) {
      this.options.onError?.(err);
      return; // L2 missed the invalidation: writing new state through now could not be trusted
    }
    for (const row of rows) {
      try {
        await this.writeThrough?.(row);
      } catch (err) {
        this.options.onError?.(err);
      }
    }
  }

  /** Set by the entity cache: stores a committed row's new state (write-through entities). */
  writeThrough: ((row: WrittenRow) => Promise<void>) | undefined;
}

/** A row a committed write touched, by id. */
export interface WrittenRow {
  readonly dataSource: DataSource;
  readonly metadata: EntityMetadata;
  readonly id: unknown;
  readonly removed: boolean;
}

/** Domain events of a write, by name: the ids it names by encoded id, or null when the rows are unknown. */
type WriteEvents = Map<string, Map<string, unknown> | null>;

/** Adds an event; once any write of it names no rows, the event names none (it reaches every entry). */
function addEvent(events: WriteEvents, name: string, ids: Iterable<unknown> | null): void {
  if (ids === null) {
    events.set(name, null);
    return;
  }
  let m = events.get(name);
  if (m === null) return;
  if (m === undefined) events.set(name, (m = new Map()));
  for (const id of ids) m.set(encodeId(id), id);
}

/** A parent delete's effect on `child` rows (ON DELETE CASCADE or SET NULL), rows unknown. */
function childEvents(events: WriteEvents, child: string): void {
  addEvent(events, writeEventName(child, 'deleted'), null);
  addEvent(events, writeEventName(child, 'updated'), null);
}

/** What one transaction level wrote: tags to bump, rows to write through, events to emit. */
class Frame {
  readonly tags = new Set<string>();
  /** By entity and id: the last write to a row decides (a remove after a save removes). */
  readonly rows = new Map<string, WrittenRow>();
  readonly events: WriteEvents = new Map();

  add(tags: readonly string[], rows: readonly WrittenRow[], events: WriteEvents): void {
    for (const t of tags) this.tags.add(t);
    for (const r of rows) this.rows.set(rowTag(r.metadata.name, r.id), r);
    for (const [name, ids] of events) addEvent(this.events, name, ids === null ? null : ids.values());
  }

  absorb(other: Frame): void {
    for (const t of other.tags) this.tags.add(t);
    for (const [k, r] of other.rows) this.rows.set(k, r);
    for (const [name, ids] of other.events) addEvent(this.events, name, ids === null ? null : ids.values());
  }
}

/** Read-dependency capture for queries: every table a read names tags the loading entry. */
function captureRead(event: AfterQueryEvent): void {
  const load = currentLoad();
  if (load === undefined) return;
  const tables = readTables(event.query, tablesOf(event.connection));
  if (tables.length > 0) load.addTags(...tables.map((t) => tableTag(t.name)));
}

/** A row tag from an id as getEntityIdMixedMap gives it (a scalar, or a map for composite keys). */
function rowTagOf(m: EntityMetadata, id: unknown): string {
  if (m.primaryColumns.length === 1 && typeof id === 'object' && id !== null && !(id instanceof Date)) {
    return rowTag(m.name, m.primaryColumns[0].getEntityValue(id as ObjectLiteral));
  }
  return rowTag(m.name, id);
}

const tableMaps = new WeakMap<DataSource, Map<string, EntityMetadata>>();

/** Entity metadata by table name (junction tables included), built once per DataSource. */
export function tablesOf(ds: DataSource): Map<string, EntityMetadata> {
  let m = tableMaps.get(ds);
  if (m === undefined || m.size !== ds.entityMetadatas.length) {
    m = new Map(ds.entityMetadatas.map((e) => [e.tableName.toLowerCase(), e]));
    tableMaps.set(ds, m);
  }
  return m;
}

/** Entities whose rows a delete of `parent` rows changes through `ON DELETE CASCADE / SET NULL`. */
function cascadeChildren(ds: DataSource, parent: EntityMetadata): string[] {
  const out: string[] = [];
  for (const m of ds.entityMetadatas) {
    for (const r of m.relations) {
      if ((r.isManyToOne || r.isOneToOneOwner) && r.inverseEntityMetadata === parent) {
        if (r.onDelete === 'CASCADE' || r.onDelete === 'SET NULL') out.push(m.name);
      }
    }
  }
  return out;
}

/**
 * The query runner's transaction nesting level. Every TypeORM 1.x driver keeps it in
 * `transactionDepth` (not in the public interface); without it, one level is assumed.
 */
function depthOf(qr: QueryRunner): number {
  const d = (qr as unknown as { transactionDepth?: unknown }).transactionDepth;
  return typeof d === 'number' ? d : qr.isTransactionActive ? 1 : 0;
}

/** The tags a write touches, and the ids of the rows it names (a scalar, or a map for composite keys). */
function tagsOf(
  metadata: EntityMetadata,
  entities: (ObjectLiteral | undefined)[],
  entityId: unknown,
): { tags: string[]; ids: unknown[] } {
  const name = metadata.name;
  const tags = new Set<string>([tableTag(name)]);
  const ids = new Map<string, unknown>();
  const addId = (raw: unknown) => {
    if (raw === undefined || raw === null) return;
    let id = raw;
    if (metadata.primaryColumns.length === 1 && typeof raw === 'object' && !(raw instanceof Date)) {
      id = metadata.primaryColumns[0].getEntityValue(raw as ObjectLiteral);
      if (id === undefined || id === null) return;
    }
    const tag = rowTag(name, id);
    tags.add(tag);
    ids.set(tag, id);
  };
  for (const e of entities) if (e) addId(metadata.getEntityIdMixedMap(e));
  addId(entityId);
  // No row known: any row may have changed, so every entry holding rows by id must go too.
  if (ids.size === 0) tags.add(anyRowTag(name));
  return { tags: [...tags], ids: [...ids.values()] };
}
