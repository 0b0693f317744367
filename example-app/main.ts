/**
 * The cachekit example shop. `npm run example` runs the scripted scenario and prints its report;
 * `npm run example -- --serve [--port 3000]` serves the shop over HTTP with /metrics.
 * Embedded defaults: SQLite in memory and an in-memory cache. Set DATABASE_URL (PostgreSQL) and
 * REDIS_URL to run on real servers (a schema and key prefix of its own, removed at exit).
 */
import { openShop } from './app';
import { runScenario } from './scenario';
import { serveShop } from './server';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function scenario(): Promise<void> {
  // Compressed time: the re-warm that runs every 5 minutes in production runs every 300 ms here,
  // and write-behind flushes only when asked, so the report can show the database lagging.
  const shop = await openShop({ rewarmEvery: '300ms', flushDelay: '1h' });
  try {
    await runScenario(shop, (line) => console.log(line));
  } finally {
    await shop.close();
  }
}

async function serve(): Promise<void> {
  const port = Number(option('--port') ?? process.env.PORT ?? 3000);
  const shop = await openShop();
  const server = await serveShop(shop, { port, log: (l) => console.log(l) });
  const stop = () => {
    void server.close().then(() => console.log('shop closed'));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

(process.argv.includes('--serve') ? serve() : scenario()).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
