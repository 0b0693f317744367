import {
  Cache,
  CacheConfigError,
  Cacheable,
  CacheEvict,
  CachePolicy,
  CachePut,
  CacheTags,
  getEntityCachePolicy,
  rowTag,
  setDefaultCache,
  tableTag,
} from '../../src';
import { openStack, type StackHandle } from '../support/stacks';

class Product {
  id = 0;
  categoryId = 0;
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Decorator behaviours, on a real L1 + Redis stack. The classes are declared inside so that the
 * file compiles under whichever decorator mode the test file importing it uses.
 */
export function describeDecoratorSuite(mode: 'legacy' | 'tc39'): void {
  describe(`decorators (${mode})`, () => {
    let stack: StackHandle;
    let cache: Cache;

    beforeAll(async () => {
      stack = await openStack('l1+redis', `decorators-${mode}`);
      cache = stack.makeCache({
        policies: { short: { ttl: 150 }, profile: { ttl: '1h', tags: ['profiles'] } },
      });
    });
    afterAll(() => stack.cleanup());

    test('@Cacheable caches by arguments and keeps this', async () => {
      class Users {
        calls = 0;
        constructor(
          readonly cache: Cache,
          readonly greeting: string,
        ) {}
        @Cacheable()
        async find(id: number, opts?: { full: boolean }) {
          this.calls++;
          return { id, greeting: this.greeting, full: opts?.full ?? false };
        }
      }
      const users = new Users(cache, 'hi');
      expect(await users.find(1)).toEqual({ id: 1, greeting: 'hi', full: false });
      expect(await users.find(1)).toEqual({ id: 1, greeting: 'hi', full: false });
      expect(await users.find(1, { full: true })).toEqual({ id: 1, greeting: 'hi', full: true });
      expect(await users.find(2)).toEqual({ id: 2, greeting: 'hi', full: false });
      expect(users.calls).toBe(3);
    });

    test('two classes with the same method name and arguments never share entries', async () => {
      class A {
        constructor(readonly cache: Cache) {}
        @Cacheable()
        async get(id: number) {
          return `A${id}`;
        }
      }
      class B {
        constructor(readonly cache: Cache) {}
        @Cacheable()
        async get(id: number) {
          return `B${id}`;
        }
      }
      expect(await new A(cache).get(1)).toBe('A1');
      expect(await new B(cache).get(1)).toBe('B1');
      expect(await new A(cache).get(1)).toBe('A1');
    });

    test('static methods and inheritance', async () => {
      let staticCalls = 0;
      class Repo {
        static cache: Cache;
        calls = 0;
        constructor(readonly cache: Cache) {}
        @Cacheable()
        static async count(kind: string) {
          staticCalls++;
          return `${this.name}:${kind}`;
        }
        @Cacheable()
        async load(id: number) {
          this.calls++;
          return `${this.constructor.name}:${id}`;
        }
      }
      class SpecialRepo extends Repo {
        override async load(id: number) {
          return `special(${await super.load(id)})`;
        }
      }
      Repo.cache = cache;
      expect(await Repo.count('x')).toBe('Repo:x');
      expect(await Repo.count('x')).toBe('Repo:x');
      expect(staticCalls).toBe(1);
      const base = new Repo(cache);
      const special = new SpecialRepo(cache);
      expect(await base.load(1)).toBe('Repo:1');
      expect(await special.load(1)).toBe('special(SpecialRepo:1)');
      expect(await special.load(1)).toBe('special(SpecialRepo:1)');
      expect(special.calls).toBe(1);
      expect(base.calls).toBe(1);
    });

    test('1 and "1" are different keys, also for the remembered keys of one-argument calls', async () => {
      class Echo {
        runs = 0;
        constructor(readonly cache: Cache) {}
        @Cacheable()
        async kind(x: unknown) {
          this.runs++;
          return typeof x;
        }
      }
      const e = new Echo(cache);
      for (let i = 0; i < 3; i++) {
        expect(await e.kind(1)).toBe('number');
        expect(await e.kind('1')).toBe('string');
      }
      expect(e.runs).toBe(2);
    });

    test('name and length of the method are kept', () => {
      class S {
        @Cacheable()
        async lookup(_a: number, _b: string) {
          return 1;
        }
      }
      expect(S.prototype.lookup.name).toBe('lookup');
      expect(S.prototype.lookup.length).toBe(2);
    });

    test('single-flight: 1,000 concurrent calls run the method once', async () => {
      const gate = deferred();
      class Slow {
        runs = 0;
        constructor(readonly cache: Cache) {}
        @Cacheable()
        async value(id: number) {
          this.runs++;
          await gate.promise;
          return { id };
        }
      }
      const s = new Slow(cache);
      const calls = Array.from({ length: 1000 }, () => s.value(7));
      setTimeout(gate.resolve, 20);
      const results = await Promise.all(calls);
      expect(s.runs).toBe(1);
      expect(results.every((r) => r.id === 7)).toBe(true);
    });

    test('errors are never cached', async () => {
      class Flaky {
        runs = 0;
        constructor(readonly cache: Cache) {}
        @Cacheable()
        async get() {
          if (++this.runs === 1) throw new Error('down');
          return 'up';
        }
      }
      const f = new Flaky(cache);
      await expect(f.get()).rejects.toThrow('down');
      expect(await f.get()).toBe('up');
      expect(await f.get()).toBe('up');
      expect(f.runs).toBe(2);
    });

    test('Spring semantics: condition, unless, put, evict after success, evict before invocation', async () => {
      class Accounts {
        reads = 0;
        constructor(readonly cache: Cache) {}
        @Cacheable({
          key: (id: number) => ['account', id],
          condition: (id: number) => id > 0,
          unless: (r) => r === null,
        })
        async get(id: number): Promise<{ id: number; balance: number } | null> {
          this.reads++;
          return id === 404 ? null : { id, balance: this.reads };
        }
        @CachePut({ key: (id: number) => ['account', id] })
        async deposit(id: number, balance: number) {
          return { id, balance };
        }
        @CacheEvict({ key: (id: number) => ['account', id] })
        async close(id: number, fail: boolean) {
          if (fail) throw new Error('refused');
          return id;
        }
        @CacheEvict({ key: (id: number) => ['account', id], beforeInvocation: true })
        async purge(_id: number) {
          throw new Error('purge failed');
        }
      }
      const a = new Accounts(cache);

      // condition false: the cache is not touched at all
      const before = cache.stats();
      await a.get(-1);
      await a.get(-1);
      expect(a.reads).toBe(2);
      const after = cache.stats();
      expect(after.hits + after.misses).toBe(before.hits + before.misses);

      // unless: a null result is returned but not stored
      expect(await a.get(404)).toBeNull();
      expect(await a.get(404)).toBeNull();
      expect(a.reads).toBe(4);

      // cached, then @CachePut always runs and replaces the entry
      expect(await a.get(1)).toEqual({ id: 1, balance: 5 });
      expect(await a.deposit(1, 100)).toEqual({ id: 1, balance: 100 });
      expect(await a.get(1)).toEqual({ id: 1, balance: 100 });
      expect(a.reads).toBe(5);

      // evict only after success
      await expect(a.close(1, true)).rejects.toThrow('refused');
      expect(await a.get(1)).toEqual({ id: 1, balance: 100 });
      expect(await a.close(1, false)).toBe(1);
      expect(await a.get(1)).toEqual({ id: 1, balance: 6 });

      // beforeInvocation evicts although the method throws
      await expect(a.purge(1)).rejects.toThrow('purge failed');
      expect(await a.get(1)).toEqual({ id: 1, balance: 7 });
    });

    test('allEntries empties the namespace by version bump', async () => {
      class Catalog {
        reads = 0;
        constructor(readonly cache: Cache) {}
        @Cacheable({ namespace: 'catalog' })
        async item(id: number) {
          this.reads++;
          return id;
        }
        @CacheEvict({ allEntries: true, namespace: 'catalog' })
        async reset() {}
      }
      const c = new Catalog(cache);
      await c.item(1);
      await c.item(2);
      await c.item(1);
      expect(c.reads).toBe(2);
      await c.reset();
      await c.item(1);
      await c.item(2);
      expect(c.reads).toBe(4);
    });

    test('tags from names, functions, entity classes and entity rows, in any stacking order', async () => {
      class Products {
        reads = 0;
        constructor(readonly cache: Cache) {}
        @CacheTags([Product, (args: unknown[]) => args[0]])
        @Cacheable({ tags: ['products'] })
        @CacheTags(Product, (_args: unknown[], r: { categoryId: number }) => `category:${r.categoryId}`)
        async byId(id: number) {
          this.reads++;
          return { id, categoryId: id * 10 };
        }
      }
      const p = new Products(cache);
      const reload = async (tag: string) => {
        await p.byId(3);
        const before = p.reads;
        await p.byId(3);
        expect(p.reads).toBe(before); // cached
        await cache.invalidateTags([tag]);
        await p.byId(3);
        expect(p.reads).toBe(before + 1); // invalidated by `tag`
      };
      await reload(rowTag(Product, 3));
      await reload(tableTag(Product));
      await reload('category:30');
      await reload('products');
      // Another row's tag leaves this entry alone.
      const n = p.reads;
      await cache.invalidateTags([rowTag(Product, 4)]);
      await p.byId(3);
      expect(p.reads).toBe(n);
    });

    test('a named policy applies', async () => {
      class Profiles {
        reads = 0;
        constructor(readonly cache: Cache) {}
        @Cacheable({ policy: 'profile' })
        async get(id: number) {
          this.reads++;
          return id;
        }
      }
      const p = new Profiles(cache);
      await p.get(1);
      await p.get(1);
      expect(p.reads).toBe(1);
      await cache.invalidateTags(['profiles']); // the policy's tag
      await p.get(1);
      expect(p.reads).toBe(2);
    });

    test('cache resolution: option, instance property, registered default, or a typed error', async () => {
      class NoCache {
        @Cacheable()
        async get() {
          return 1;
        }
      }
      expect(() => new NoCache().get()).toThrow(CacheConfigError);
      expect(() => new NoCache().get()).toThrow(/setDefaultCache/);
      setDefaultCache(cache);
      try {
        expect(await new NoCache().get()).toBe(1);
      } finally {
        setDefaultCache(undefined);
      }
      const other = stack.makeCache();
      class Explicit {
        @Cacheable({ cache: (self: Explicit) => self.store })
        async get() {
          return 2;
        }
        constructor(readonly store: Cache) {}
      }
      expect(await new Explicit(other).get()).toBe(2);
      expect(other.stats().sets).toBe(1);
    });

    test('a sync method is refused with a CacheConfigError', async () => {
      class Sync {
        constructor(readonly cache: Cache) {}
        // Declared without a type, so that even legacy metadata cannot tell at decoration time.
        @Cacheable()
        value(): any {
          return 42;
        }
      }
      const s = new Sync(cache);
      await expect(s.value()).rejects.toThrow(/async methods only/);
      expect(() => s.value()).toThrow(CacheConfigError);
    });

    test('bad decorator options fail at decoration time', () => {
      expect(() => CacheEvict({})).toThrow(/key, tags or allEntries/);
      expect(() => Cacheable({ tags: [42 as never] })).toThrow(/tags\[0\]/);
      expect(() => CacheTags({} as never)).toThrow(CacheConfigError);
      expect(() => Cacheable({ key: 'nope' as never })).toThrow(/"key"/);
    });

    test('@CachePolicy declares an entity policy; undecorated entities use invalidate', () => {
      @CachePolicy({ strategy: 'write-through', ttl: '24h', tags: ['catalog'] })
      class Sku {}
      @CachePolicy({ strategy: 'write-behind' })
      class Counter {}
      class Plain {}
      class SpecialSku extends Sku {}
      expect(getEntityCachePolicy(Sku)).toEqual({ strategy: 'write-through', ttl: '24h', tags: ['catalog'] });
      expect(getEntityCachePolicy(Counter).strategy).toBe('write-behind');
      expect(getEntityCachePolicy(Plain)).toEqual({ strategy: 'invalidate' });
      expect(getEntityCachePolicy(SpecialSku).strategy).toBe('write-through');
      expect(() => CachePolicy({ strategy: 'write-around' as never })).toThrow(/strategy/);
      expect(() => CachePolicy({ ttl: 'soon' })).toThrow(/"ttl"/);
    });
  });
}
