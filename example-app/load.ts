/**
 * Load test of the example shop: `npm run example:load [-- --duration 10 --connections 20]`.
 * Starts the shop server in this process (or drives `--url http://host:port`), sends skewed
 * traffic with autocannon (mostly product pages, some listings, searches, profiles, views and
 * price changes) and prints the latency percentiles and the cache's hit ratio from /metrics.
 */
import autocannon from 'autocannon';
import { openShop } from './app';
import { serveShop, type ShopServer } from './server';
import { Traffic } from './traffic';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** The value of one sample of the exposition text, e.g. `cachekit_hit_ratio`. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function main(): Promise<void> {
  const duration = option('--duration', 5);
  const connections = option('--connections', 10);
  const external = process.argv.includes('--url')
    ? process.argv[process.argv.indexOf('--url') + 1]
    : undefined;
  let server: ShopServer | undefined;
  if (!external) server = await serveShop(await openShop(), { port: 0, log: (l) => console.log(l) });
  const url = external ?? server!.url;
  const traffic = new Traffic(11);
  const products = Array.from({ length: 40 }, (_, i) => i + 1);
  const searches = ['lamp', 'desk', 'chair', 'shelve', 'lamp 1'];

  try {
    console.log(`autocannon: ${connections} connections for ${duration}s against ${url}`);
    const result = await autocannon({
      url,
      connections,
      duration,
      requests: [
        {
          setupRequest: (req) => {
            const r = traffic.next();
            const id = traffic.skewed(products);
            if (r < 0.6) return { ...req, method: 'GET', path: `/products/${id}` };
            if (r < 0.72) return { ...req, method: 'GET', path: `/categories/${1 + (id % 4)}/products` };
            if (r < 0.84)
              return {
                ...req,
                method: 'GET',
                path: `/search?q=${encodeURIComponent(traffic.pick(searches))}`,
              };
            if (r < 0.94) return { ...req, method: 'GET', path: `/users/${1 + (id % 5)}` };
            if (r < 0.999) return { ...req, method: 'POST', path: `/products/${id}/view` };
            // A rare price change: every page, listing and search showing it reloads after COMMIT.
            return {
              ...req,
              method: 'POST',
              path: `/products/${id}/price`,
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ price: 1000 + Math.floor(traffic.next() * 9000) }),
            };
          },
        },
      ],
    });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const ratio = sample(metrics, 'cachekit_hit_ratio');
    console.log(
      `requests: ${result.requests.total} (${result.requests.average.toFixed(0)}/s), errors ${result.errors}, non-2xx ${result.non2xx}`,
    );
    console.log(
      `latency: p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`,
    );
    console.log(`cache hit ratio: ${ratio === undefined ? 'n/a' : `${(ratio * 100).toFixed(1)}%`}`);
  } finally {
    await server?.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
