import { describeCacheBehaviours } from '../shared/cache_behaviours';
import { sleep } from '../support/services';
import { openStack, type StackHandle } from '../support/stacks';

describeCacheBehaviours('l1+redis');

describe('L1 over Redis', () => {
  let stack: StackHandle;
  beforeAll(async () => {
    stack = await openStack('l1+redis', 'l1fill');
  });
  afterAll(() => stack.cleanup());

  test('an L2 hit fills L1 with the remaining TTL, not a fresh one', async () => {
    const writer = stack.makeCache();
    await writer.set('fill', 'v', { ttl: 1200 });
    await sleep(700);
    const reader = stack.makeCache();
    expect(await reader.getEntry('fill')).toEqual({ value: 'v', layer: 'l2' });
    expect(await reader.getEntry('fill')).toEqual({ value: 'v', layer: 'l1' });
    // ~500 ms were left; a fresh 1200 ms TTL would still hold the entry in L1 after 800 ms.
    await sleep(800);
    expect(await reader.getEntry('fill')).toBeUndefined();
  });

  test('an invalidation in this process drops the L1 copy at once', async () => {
    const c = stack.makeCache();
    let reads = 0;
    await c.getOrLoad('inv', () => ++reads, { tags: ['t1'] });
    expect(await c.getEntry('inv')).toEqual({ value: 1, layer: 'l1' });
    await c.invalidateTags(['t1']);
    expect(await c.getOrLoad('inv', () => ++reads, { tags: ['t1'] })).toBe(2);
  });
});
