import { AsyncLocalStorage } from 'node:async_hooks';
import type { LoadContext } from './load_context';

/*
 * The load in progress in the current async context, so that integrations can tell the entry
 * being built what it read: the TypeORM plugin adds the tags of every row and table a loader
 * touches (read-dependency capture). Only loads (misses) pay for it; hits never enter here.
 */
const scope = new AsyncLocalStorage<LoadContext>();

/** Runs a loader with `ctx` as the current load. */
export function runInLoadScope<T>(ctx: LoadContext, fn: () => T): T {
  return scope.run(ctx, fn);
}

/** The load running in this async context, if any. */
export function currentLoad(): LoadContext | undefined {
  return scope.getStore();
}
