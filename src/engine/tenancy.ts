import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The tenant of the current async context, for caches with `tenancy` on: their keys and tags
 * are scoped per tenant, so tenant A never reads tenant B's entry, even for identical arguments.
 */
const tenantScope = new AsyncLocalStorage<string>();

/** Runs `fn` with `tenantId` as the current tenant (for every cache call it makes, awaited or not). */
export function runWithTenant<T>(tenantId: string, fn: () => T): T {
  return tenantScope.run(tenantId, fn);
}

/** The tenant set by the enclosing `runWithTenant`, if any. */
export function currentTenant(): string | undefined {
  return tenantScope.getStore();
}

/** Tenant scoping of a cache. */
export interface TenancyOptions {
  /** Where the tenant comes from. Default `currentTenant` (set with `runWithTenant`). */
  resolve?: () => string | undefined;
  /** A call with no tenant is a `CacheTenantError` (true, the default) or uses the shared, untenanted scope (false). */
  required?: boolean;
}

/** The path segment of a tenant: readable when it is safe, base64url otherwise, so no id can forge another's. */
export function tenantSegment(id: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(id) ? `@${id}` : `@~${Buffer.from(id, 'utf8').toString('base64url')}`;
}
