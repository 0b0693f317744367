import { AsyncLocalStorage } from 'node:async_hooks';
import type { CaptureView, LoadContext } from './load_context';

/*
 * The load in progress in the current async context, so that integrations can tell the entry
 * being built what it read: the TypeORM plugin adds the tags of every row and table a loader
 * touches (read-dependency capture), and a cached call made inside a loader hands the entry
 * being built its own tags (nested dependencies). Only loads enter a scope; hits only look.
 */
const scope = new AsyncLocalStorage<CaptureView>();

/**
 * Whether anything reads the scope. Why a switch: the first `AsyncLocalStorage#run` turns on
 * promise hooks for the whole process on Node 20, a tax on every promise of the application
 * (~5% of a Redis hit in bench/redis_hit.ts). An app without an integration never pays it.
 */
let watched = false;

/**
 * Declares that something will call `currentLoad()` during loads, so loaders must run in the
 * scope from now on. The TypeORM plugin calls it when it is created; call it before the first
 * load if you read `currentLoad()` yourself.
 */
export function watchLoads(): void {
  watched = true;
}

/**
 * Runs a loader with `ctx`'s capture view as the current load (a plain call while nothing
 * watches loads, so that the view is only built when something will use it).
 */
export function runInLoadScope<T>(ctx: { captureView(): CaptureView }, fn: () => T): T {
  return watched ? scope.run(ctx.captureView(), fn) : fn();
}

/**
 * The load a cached call is nested in, for the engine: `undefined` at once (no lookup) while
 * nothing watches loads, so an application without an integration pays nothing on its hits.
 */
export function enclosingLoad(): CaptureView | undefined {
  return watched ? scope.getStore() : undefined;
}

/** The load running in this async context, if any (see `watchLoads`). */
export function currentLoad(): LoadContext | undefined {
  watched = true;
  return scope.getStore();
}
