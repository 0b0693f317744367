import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';

/**
 * Closes an ioredis connection politely when it can and at once when it cannot: QUIT on a
 * connection that is not ready would wait in the offline queue for a server that may never come
 * back, and a QUIT without a reply within `waitMs` is cut short.
 */
export async function closeClient(client: Redis | Cluster, waitMs = 1000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  const timer = setTimeout(() => client.disconnect(), waitMs);
  try {
    await client.quit();
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
