import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Shop } from './app';
import { shopMetrics, watchHitRatio } from './metrics';

/** Options of `serveShop`. */
export interface ServeOptions {
  /** 0 picks a free port. Default 3000. */
  port?: number;
  host?: string;
  log?: (line: string) => void;
}

/** A running shop server. */
export interface ShopServer {
  readonly url: string;
  /** Stops accepting requests, then closes the shop. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function id(raw: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new HttpError(400, `expected a positive integer id, got "${raw}"`);
  return n;
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 64 * 1024) throw new HttpError(413, 'body larger than 64 KiB');
    chunks.push(c);
  }
  try {
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (body === null || typeof body !== 'object') throw new Error('not an object');
    return body as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'expected a JSON object body');
  }
}

function found<T>(value: T | null, what: string): T {
  if (value === null) throw new HttpError(404, `${what} not found`);
  return value;
}

/**
 * The shop's JSON API on node:http. Routes:
 * GET /products/:id, GET /categories/:id/products, GET /search?q=, GET /users/:id,
 * POST /products/:id/price {"price": cents}, POST /products/:id/view, GET /metrics, GET /stats.
 * Warms the cache before listening (with a progress bar on a terminal).
 */
export async function serveShop(shop: Shop, options: ServeOptions = {}): Promise<ShopServer> {
  const log = options.log ?? (() => {});
  const metrics = shopMetrics(shop);
  const alert = watchHitRatio(shop.cache, { log });
  const { catalog, users, views } = shop;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://shop');
    const parts = url.pathname.split('/').filter(Boolean);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const [a, b, c] = parts;
    if (req.method === 'GET') {
      if (a === 'metrics' && parts.length === 1) {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(await metrics.metrics());
        return;
      }
      if (a === 'stats' && parts.length === 1) return send(200, shop.cache.stats());
      if (a === 'products' && b && parts.length === 2)
        return send(200, found(await catalog.product(id(b)), 'product'));
      if (a === 'categories' && b && c === 'products' && parts.length === 3)
        return send(200, await catalog.productsInCategory(id(b)));
      if (a === 'search' && parts.length === 1) {
        const q = url.searchParams.get('q')?.trim();
        if (!q) throw new HttpError(400, 'expected a query: /search?q=lamp');
        return send(200, await catalog.search(q));
      }
      if (a === 'users' && b && parts.length === 2)
        return send(200, found(await users.profile(id(b)), 'user'));
    }
    if (req.method === 'POST' && a === 'products' && b && parts.length === 3) {
      if (c === 'price') {
        const { price } = await jsonBody(req);
        if (!Number.isSafeInteger(price) || (price as number) < 0)
          throw new HttpError(400, 'expected {"price": <cents, a non-negative integer>}');
        return send(200, found(await catalog.changePrice(id(b), price as number), 'product'));
      }
      if (c === 'view') {
        const productId = id(b);
        found(await catalog.product(productId), 'product');
        return send(200, { productId, views: await views.record(productId) });
      }
    }
    throw new HttpError(404, `no route for ${req.method} ${url.pathname}`);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (status === 500) log(`error on ${req.method} ${req.url}: ${String(err)}`);
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
    });
  });

  const warm = await shop.cache.warm({ progress: process.stdout });
  log(`warmed ${warm.warmers.reduce((n, w) => n + w.done, 0)} entries in ${warm.ms} ms`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', resolve);
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address}:${addr.port}`;
  log(`shop on ${shop.description} listening on ${url}`);
  return {
    url,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      alert.stop();
      metrics.close();
      await shop.close();
    },
  };
}
