import { type Cache, watchLoads } from '../../src';
import { openStack, type StackHandle, type StackKind } from '../support/stacks';

/*
 * A cached call made inside another entry's loader hands that entry its tags: invalidating what
 * the inner value depends on invalidates the outer one too, whether the inner call was a hit
 * (L1 or L2), a load, or joined a load in flight. Load tracking is on here by `watchLoads()`;
 * `@Cacheable`, the TypeORM plugin and the NestJS module turn it on themselves.
 */
watchLoads();

const KINDS: StackKind[] = ['memory', 'l1+redis', 'redis'];

describe.each(KINDS)('nested cached calls on %s', (kind) => {
  let stack: StackHandle;
  let cache: Cache;
  let n = 0;
  beforeAll(async () => {
    stack = await openStack(kind, 'nested');
    cache = stack.makeCache();
  });
  afterAll(() => stack.cleanup());

  function pair() {
    const id = n++;
    const state = { inner: 1, innerLoads: 0, outerLoads: 0 };
    const inner = () =>
      cache.getOrLoad(`inner${id}`, async () => (state.innerLoads++, state.inner), { tags: [`t${id}`] });
    const outer = () => cache.getOrLoad(`outer${id}`, async () => (state.outerLoads++, (await inner()) * 10));
    return { id, state, inner, outer };
  }

  test('inner loaded by the outer loader: invalidating its tag reloads the outer entry', async () => {
    const p = pair();
    expect(await p.outer()).toBe(10);
    expect(await p.outer()).toBe(10);
    expect(p.state.outerLoads).toBe(1);
    p.state.inner = 2;
    await cache.invalidateTags([`t${p.id}`]);
    expect(await p.outer()).toBe(20);
  });

  test('inner already cached (a hit inside the outer loader) still passes its tags on', async () => {
    const p = pair();
    expect(await p.inner()).toBe(1);
    expect(await p.outer()).toBe(10);
    expect(p.state.innerLoads).toBe(1);
    p.state.inner = 3;
    await cache.invalidateTags([`t${p.id}`]);
    expect(await p.outer()).toBe(30);
  });

  test('inner joined a load already in flight: its tags reach the outer entry too', async () => {
    const p = pair();
    const [a, b] = await Promise.all([p.inner(), p.outer()]);
    expect([a, b]).toEqual([1, 10]);
    expect(p.state.innerLoads).toBe(1);
    p.state.inner = 4;
    await cache.invalidateTags([`t${p.id}`]);
    expect(await p.outer()).toBe(40);
  });

  test('an unrelated tag leaves the outer entry cached', async () => {
    const p = pair();
    await p.outer();
    await cache.invalidateTags([`unrelated${p.id}`]);
    await p.outer();
    expect(p.state.outerLoads).toBe(1);
  });
});
