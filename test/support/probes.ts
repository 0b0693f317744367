import type Redis from 'ioredis';
import { sleep } from './services';

/**
 * Records the commands a client sends and how many times it writes to its socket: commands
 * written together (a pipeline) travel in one write, and are answered in one round trip.
 */
export function countCommands(client: Redis): { names: string[]; args: unknown[][]; writes: number } {
  const seen = { names: [] as string[], args: [] as unknown[][], writes: 0 };
  const original = client.sendCommand.bind(client);
  client.sendCommand = ((cmd: { name: string; args: unknown[] }, stream?: unknown) => {
    seen.names.push(cmd.name);
    seen.args.push(cmd.args);
    return original(cmd as never, stream as never);
  }) as never;
  const socket = client.stream;
  const write = socket.write.bind(socket);
  socket.write = ((...args: unknown[]) => {
    seen.writes++;
    return (write as (...a: unknown[]) => boolean)(...args);
  }) as never;
  return seen;
}

/** Polls until `ok()` or the deadline; returns whether it got there. */
export async function until(ok: () => boolean | Promise<boolean>, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return true;
    await sleep(10);
  }
  return ok();
}
