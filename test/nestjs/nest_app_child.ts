/*
 * A real Nest application on PostgreSQL and Redis, run in its own process: Nest 12 is ESM-only,
 * which Jest cannot load on Node 20 while plain Node can. The process prints what it observed as
 * one JSON line and must then exit on its own: an open handle left by app.close() would keep it
 * alive, and the parent test would time out.
 */
import 'reflect-metadata';
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  ForbiddenException,
  Get,
  Injectable,
  Module,
  NotFoundException,
  Param,
  ParseIntPipe,
  Body,
  Put,
  Query,
  SetMetadata,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { getDataSourceToken, InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import Redis from 'ioredis';
import { Client } from 'pg';
import request from 'supertest';
import { Column, DataSource, Entity, PrimaryColumn, Repository } from 'typeorm';
import { CacheInvalidationSubscriber, CachekitQueryResultCache, tableTag } from '../../src/typeorm';
import { Cache, Cacheable, CachePolicy } from '../../src';
import { RedisStore } from '../../src/redis';
import {
  Cachekit,
  CachekitModule,
  CacheRoute,
  CacheRouteInterceptor,
  getCachekitToken,
  InjectCache,
  NoCache,
} from '../../src/nestjs';
import {
  DATABASE_URL,
  deletePrefix,
  REDIS_URL,
  requirePostgres,
  requireRedis,
  uniquePrefix,
} from '../support/services';

const PRODUCT = `nest_product_${process.pid}`;
const CART = `nest_cart_${process.pid}`;
const NOTE = `nest_note_${process.pid}`;

@Entity({ name: PRODUCT })
class Product {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  name!: string;
}

@CachePolicy({ strategy: 'write-behind', ttl: '1h' })
@Entity({ name: CART })
class Cart {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  items!: string;
}

/** An entity of a second, named DataSource. */
@Entity({ name: NOTE })
class AuditNote {
  @PrimaryColumn('int')
  id!: number;
  @Column()
  text!: string;
}

/** Counts the bodies that really ran (cache misses). */
@Injectable()
class Calls {
  readonly n: Record<string, number> = {};
  hit(name: string): void {
    this.n[name] = (this.n[name] ?? 0) + 1;
  }
}

/** A ConfigService stand-in: the async factory reads the cache settings from it. */
@Injectable()
class Settings {
  readonly prefix = uniquePrefix('nest');
  readonly reads: string[] = [];
  get(key: 'prefix' | 'redisUrl'): string {
    this.reads.push(key);
    return key === 'prefix' ? this.prefix : REDIS_URL;
  }
}

@Module({ providers: [Settings], exports: [Settings] })
class SettingsModule {}

@Injectable()
class ProductService {
  constructor(
    @InjectRepository(Product) private readonly repo: Repository<Product>,
    private readonly calls: Calls,
  ) {}

  /** No cache passed: it resolves the module's default cache. */
  @Cacheable({ ttl: '1h' })
  async byId(id: number): Promise<Product | null> {
    this.calls.hit('service');
    return this.repo.findOneBy({ id });
  }

  async rename(id: number, name: string): Promise<void> {
    await this.repo.save({ id, name });
  }
}

/** A service of the named cache: the instance's `cache` property is that cache. */
@Injectable()
class ReportService {
  constructor(
    @InjectCache('reports') readonly cache: Cache,
    private readonly calls: Calls,
  ) {}

  @Cacheable({ tags: ['report'] })
  async total(): Promise<number> {
    this.calls.hit('report');
    return 42;
  }
}

const ROLES = 'test:roles';
const Roles = (...roles: string[]) => SetMetadata(ROLES, roles);

/** Reads the handler's @Roles metadata: proves @Cacheable kept Nest's metadata on the method. */
@Injectable()
class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}
  canActivate(ctx: ExecutionContext): boolean {
    const roles = this.reflector.get<string[] | undefined>(ROLES, ctx.getHandler());
    if (roles === undefined) throw new Error('the @Roles metadata is missing from the handler');
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string> }>();
    if (!roles.includes(req.headers['x-role'])) throw new ForbiddenException();
    return true;
  }
}

@Controller()
class ProductController {
  constructor(
    private readonly products: ProductService,
    @InjectRepository(Product) private readonly repo: Repository<Product>,
    private readonly calls: Calls,
  ) {}

  @Get('products/:id')
  product(@Param('id', ParseIntPipe) id: number) {
    return this.products.byId(id);
  }

  @Put('products/:id')
  async rename(@Param('id', ParseIntPipe) id: number, @Body() body: { name: string }) {
    await this.products.rename(id, body.name);
    return { ok: true };
  }

  @Get('catalog/:id')
  @UseInterceptors(CacheRouteInterceptor)
  @CacheRoute({ ttl: '1h', tags: ['product:{id}', [Product, 'id']] })
  async catalog(@Param('id', ParseIntPipe) id: number, @Query('v') v?: string) {
    this.calls.hit('route');
    const p = await this.repo.findOneBy({ id });
    if (p === null) throw new NotFoundException(`no product ${id}`);
    return { ...p, v: v ?? null };
  }

  /** No tags: what the handler reads through TypeORM tags the response (dependency capture). */
  @Get('auto/:id')
  @UseInterceptors(CacheRouteInterceptor)
  async auto(@Param('id', ParseIntPipe) id: number) {
    this.calls.hit('auto');
    return this.repo.findOneBy({ id });
  }

  @Get('live/:id')
  @UseInterceptors(CacheRouteInterceptor)
  @NoCache()
  async live(@Param('id', ParseIntPipe) id: number) {
    this.calls.hit('live');
    return this.repo.findOneBy({ id });
  }

  /** @Cacheable stacked above Nest's decorators: the route and the guard must still see theirs. */
  @Cacheable({ ttl: '1h' })
  @Get('guarded/:id')
  @Roles('admin')
  @UseGuards(RolesGuard)
  async guarded(@Param('id') id: string) {
    this.calls.hit('guarded');
    return { id };
  }
}

async function main(): Promise<void> {
  await requirePostgres();
  await requireRedis();
  const out: Record<string, unknown> = {};
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({
        type: 'postgres',
        url: DATABASE_URL,
        entities: [Product, Cart],
        synchronize: true,
      }),
      TypeOrmModule.forFeature([Product, Cart]),
      TypeOrmModule.forRoot({
        name: 'audit',
        type: 'postgres',
        url: DATABASE_URL,
        entities: [AuditNote],
        synchronize: true,
      }),
      CachekitModule.forRoot({
        name: 'audit',
        cache: { prefix: uniquePrefix('nest-audit') },
        typeorm: { dataSource: 'audit' },
      }),
      CachekitModule.forRootAsync({
        imports: [SettingsModule],
        inject: [Settings],
        useFactory: (s: Settings) => ({
          cache: { prefix: s.get('prefix'), l2: { store: new RedisStore({ url: s.get('redisUrl') }) } },
          typeorm: { writeBehind: { maxDelay: '1h' } },
        }),
      }),
      CachekitModule.forRoot({
        name: 'reports',
        cache: { prefix: uniquePrefix('nest-reports') },
        typeorm: false,
      }),
    ],
    controllers: [ProductController],
    providers: [Calls, ProductService, ReportService, RolesGuard],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.enableShutdownHooks();
  await app.init();
  const http = app.getHttpServer();
  const calls = app.get(Calls);
  const cache = app.get(Cache);
  const settings = app.get(Settings);
  const kit = app.get<Cachekit>(getCachekitToken());
  const repo = app.get<Repository<Product>>('ProductRepository');
  await repo.save([
    { id: 1, name: 'lamp' },
    { id: 2, name: 'desk' },
  ]);

  // The async factory built the default cache from the settings provider.
  const redis = new Redis(REDIS_URL);
  await cache.set('probe', 1);
  out.settingsReads = settings.reads;
  out.probeInRedis = await redis.exists(`${settings.prefix}:_:probe`);

  // Service-level @Cacheable: cached GET, write through the service, GET sees the write.
  const g1 = await request(http).get('/products/1');
  const g2 = await request(http).get('/products/1');
  out.serviceCallsAfterTwoGets = calls.n.service;
  const a1 = await request(http).get('/auto/1');
  await request(http).get('/auto/1');
  out.autoCallsBeforeWrite = calls.n.auto;
  const put = await request(http).put('/products/1').send({ name: 'lamp v2' });
  const a2 = await request(http).get('/auto/1');
  out.autoBodies = [a1.body, a2.body];
  out.autoCallsAfterWrite = calls.n.auto;
  const g3 = await request(http).get('/products/1');
  out.productBodies = [g1.body, g2.body, g3.body];
  out.putStatus = put.status;
  out.serviceCallsAfterWrite = calls.n.service;

  // The interceptor: cached by route + params + query; invalidated by the same TypeORM write.
  const c1 = await request(http).get('/catalog/2');
  const c2 = await request(http).get('/catalog/2');
  out.routeCallsAfterTwoGets = calls.n.route;
  const c3 = await request(http).get('/catalog/2?v=a');
  out.routeCallsAfterOtherQuery = calls.n.route;
  await request(http).put('/products/2').send({ name: 'desk v2' });
  const c4 = await request(http).get('/catalog/2');
  out.catalogBodies = [c1.body, c2.body, c3.body, c4.body];
  out.routeCallsAfterWrite = calls.n.route;
  await cache.invalidateTags(['product:2']);
  await request(http).get('/catalog/2');
  out.routeCallsAfterTagInvalidation = calls.n.route;
  const e1 = await request(http).get('/catalog/99');
  const e2 = await request(http).get('/catalog/99');
  out.errorStatuses = [e1.status, e2.status];
  out.routeCallsAfterErrors = calls.n.route;
  await request(http).get('/live/1');
  await request(http).get('/live/1');
  out.liveCalls = calls.n.live;

  // Nest's metadata on a @Cacheable method: the guard reads @Roles, the route works and is cached.
  const denied = await request(http).get('/guarded/7');
  const ok1 = await request(http).get('/guarded/7').set('x-role', 'admin');
  const ok2 = await request(http).get('/guarded/7').set('x-role', 'admin');
  out.guarded = [denied.status, ok1.status, ok2.status, ok2.body];
  out.guardedCalls = calls.n.guarded;

  // The named cache: its own Cache, used by the service whose `cache` property it is.
  const reports = app.get(ReportService);
  out.namedIsOther = reports.cache !== cache && reports.cache instanceof Cache;
  await reports.total();
  await reports.total();
  await cache.invalidateTags(['report']);
  await reports.total();
  out.reportCallsAfterDefaultInvalidation = calls.n.report;
  await reports.cache.invalidateTags(['report']);
  await reports.total();
  out.reportCallsAfterNamedInvalidation = calls.n.report;

  // A named DataSource: its cache's subscriber is on it (one), and its writes invalidate that cache.
  const auditKit = app.get<Cachekit>(getCachekitToken('audit'));
  const auditDs = app.get<DataSource>(getDataSourceToken('audit'));
  out.auditAttached = auditKit.dataSource === auditDs;
  out.queryCacheOnDefault = app.get(DataSource).queryResultCache instanceof CachekitQueryResultCache;
  out.subscriberCounts = [auditDs, app.get(DataSource)].map(
    (ds) => ds.subscribers.filter((x) => x instanceof CacheInvalidationSubscriber).length,
  );
  let noteLoads = 0;
  const notes = () =>
    auditKit.cache.getOrLoad('notes', async () => ++noteLoads, { tags: [tableTag(AuditNote)] });
  await notes();
  await notes();
  await auditDs.getRepository(AuditNote).save({ id: 1, text: 'hello' });
  await notes();
  out.noteLoads = noteLoads;

  // Write-behind: acknowledged, visible through the cache, not in the database until shutdown.
  const carts = kit.repository(app.get<Repository<Cart>>('CartRepository'));
  await carts.save({ id: 1, items: 'apple,pear' });
  out.cartFromCache = await carts.findOneById(1);
  const pg = new Client({ connectionString: DATABASE_URL });
  await pg.connect();
  const cartRow = async () => (await pg.query(`SELECT items FROM "${CART}" WHERE id = 1`)).rows[0] ?? null;
  out.cartInDbBeforeClose = await cartRow();

  await app.close();
  out.cartInDbAfterClose = await cartRow();
  out.writeBehindClosed = kit.writeBehind?.closed;
  out.readAfterClose = await cache.getOrLoad('after-close', async () => 'loader ran');

  out.subscribersAfterClose = auditDs.subscribers.filter(
    (x) => x instanceof CacheInvalidationSubscriber,
  ).length;
  await pg.query(`DROP TABLE IF EXISTS "${PRODUCT}", "${CART}", "${NOTE}" CASCADE`);
  await pg.end();
  await deletePrefix(redis, settings.prefix);
  await redis.quit();
  process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
