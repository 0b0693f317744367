import { CacheTenantError, runWithTenant } from '../../src';
import { openStack, type StackHandle, type StackKind } from '../support/stacks';

// A namespace taken from a tenant view must stay that tenant's: usable with no tenant in context,
// the same entries runWithTenant reaches through the root's namespace, and reached by the
// all-tenant invalidations of that namespace (not by another tenant's scoped ones).
describe.each<StackKind>(['memory', 'l1+redis'])('namespaces of a tenant view (%s)', (kind) => {
  let stack: StackHandle;
  beforeAll(async () => {
    stack = await openStack(kind, 'tenant-ns');
  });
  afterAll(() => stack.cleanup());

  test('tenant(id).namespace(x) works outside runWithTenant and is the tenant’s view of namespace x', async () => {
    const cache = stack.makeCache({ tenancy: {} });
    const acmeOrders = cache.tenant('acme').namespace('orders');
    expect(await acmeOrders.getOrLoad('k', async () => 'acme value')).toBe('acme value');
    // Not the root's namespace itself: that needs a tenant.
    await expect(cache.namespace('orders').getOrLoad('k', async () => 'x')).rejects.toBeInstanceOf(
      CacheTenantError,
    );
    expect(await runWithTenant('acme', () => cache.namespace('orders').get('k'))).toBe('acme value');
    expect(await runWithTenant('globex', () => cache.namespace('orders').get('k'))).toBeUndefined();
    expect(await cache.tenant('globex').namespace('orders').get('k')).toBeUndefined();
  });

  test('an all-tenant invalidation of the namespace reaches a namespace made from a tenant view', async () => {
    const cache = stack.makeCache({ tenancy: {} });
    const acme = cache.tenant('acme').namespace('inv');
    const globex = cache.tenant('globex').namespace('inv');
    await acme.getOrLoad('k', async () => 'a1', { tags: ['t'] });
    await globex.getOrLoad('k', async () => 'g1', { tags: ['t'] });
    await cache.namespace('inv').invalidateTags(['t']);
    expect(await acme.get('k')).toBeUndefined();
    expect(await globex.get('k')).toBeUndefined();
  });

  test('a tenant-scoped invalidation or clear reaches only that tenant', async () => {
    const cache = stack.makeCache({ tenancy: {} });
    const acme = cache.tenant('acme').namespace('scoped');
    const globex = cache.tenant('globex').namespace('scoped');
    await acme.getOrLoad('k', async () => 'a1', { tags: ['t'] });
    await globex.getOrLoad('k', async () => 'g1', { tags: ['t'] });
    await runWithTenant('acme', () => cache.namespace('scoped').invalidateTags(['t'], { scope: 'tenant' }));
    expect(await acme.get('k')).toBeUndefined();
    expect(await globex.get('k')).toBe('g1');
    await acme.set('k2', 'a2');
    await globex.set('k2', 'g2');
    await acme.clear();
    expect(await acme.get('k2')).toBeUndefined();
    expect(await globex.get('k2')).toBe('g2');
  });

  test('clearing the root (no tenant) empties every tenant’s namespaces', async () => {
    const cache = stack.makeCache({ tenancy: {} });
    const acme = cache.tenant('acme').namespace('cleared');
    const nested = cache.tenant('globex').namespace('cleared').namespace('deep');
    await acme.set('k', 'a');
    await nested.set('k', 'g');
    await cache.clear();
    expect(await acme.get('k')).toBeUndefined();
    expect(await nested.get('k')).toBeUndefined();
  });
});
