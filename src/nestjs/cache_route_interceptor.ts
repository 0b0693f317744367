import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  StreamableFile,
} from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { from, lastValueFrom, type Observable } from 'rxjs';
import type { Cache } from '../cache';
import { CacheConfigError } from '../errors';
import { rowTag, tableTag } from '../tags/naming';
import {
  CACHE_ROUTE_METADATA,
  type CacheRouteOptions,
  NO_CACHE_METADATA,
  type RouteRequest,
  type RouteTag,
} from './cache_route';
import { getCacheToken } from './tokens';

/** Request fields the interceptor reads from Express or Fastify. */
interface HttpRequest extends RouteRequest {
  readonly url?: string;
  readonly route?: { path?: string };
  readonly baseUrl?: string;
  readonly routeOptions?: { url?: string };
}

/**
 * Caches the response bodies of GET routes, keyed by route, parameters and query string, with
 * the tags of `@CacheRoute` and the rows and tables the handler read through TypeORM, so a
 * committed write to them invalidates the response. Errors are never cached; other methods,
 * `@NoCache` routes and requests failing the route's `condition` pass through.
 * Use it with `@UseInterceptors(CacheRouteInterceptor)` or as an `APP_INTERCEPTOR`.
 */
@Injectable()
export class CacheRouteInterceptor implements NestInterceptor {
  private readonly caches = new Map<string, Cache>();

  constructor(
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<HttpRequest>();
    if (req.method !== 'GET') return next.handle();
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(NO_CACHE_METADATA, targets) === true) return next.handle();
    const options = this.reflector.getAllAndOverride<CacheRouteOptions>(CACHE_ROUTE_METADATA, targets) ?? {};
    if (options.condition !== undefined && !options.condition(req)) return next.handle();
    const cache = this.cacheNamed(options.cache ?? 'default');
    const params = { ...(req.params ?? {}) };
    const query = { ...(req.query ?? {}) };
    const key = ['http', routeOf(req), params, query];
    const tags = options.tags?.map((t) => routeTag(t, params, query));
    // The handler runs inside the load, so the TypeORM reads it makes tag the response too.
    const body = cache.getOrLoad(
      key,
      async (load) => {
        const result: unknown = await lastValueFrom(next.handle(), { defaultValue: undefined });
        // A stream can be read once: it is returned, never stored.
        if (result instanceof StreamableFile) load.doNotCache();
        return result;
      },
      { ttl: options.ttl, tags },
    );
    return from(body);
  }

  private cacheNamed(name: string): Cache {
    let c = this.caches.get(name);
    if (c === undefined) {
      c = this.moduleRef.get<Cache>(getCacheToken(name), { strict: false });
      this.caches.set(name, c);
    }
    return c;
  }
}

/** The route pattern (`/products/:id`), so that the key names the route and its parameters apart. */
function routeOf(req: HttpRequest): string {
  if (req.route?.path !== undefined) return `${req.baseUrl ?? ''}${String(req.route.path)}`;
  if (req.routeOptions?.url !== undefined) return req.routeOptions.url;
  return (req.url ?? '').split('?')[0];
}

function routeTag(tag: RouteTag, params: Record<string, string>, query: Record<string, unknown>): string {
  if (typeof tag === 'string') {
    return tag.replace(/\{([A-Za-z0-9_$]+)\}/g, (_, name: string) => paramValue(name, params, query, tag));
  }
  if (Array.isArray(tag)) return rowTag(tag[0], paramValue(tag[1], params, query, tag[1]));
  return tableTag(tag as abstract new (...args: any[]) => unknown);
}

function paramValue(
  name: string,
  params: Record<string, string>,
  query: Record<string, unknown>,
  where: string,
): string {
  const v = params[name] ?? query[name];
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  throw new CacheConfigError('tags', where, `the route has no parameter "${name}" to fill the tag with`);
}
