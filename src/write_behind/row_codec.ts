import { decodeJsonText, jsonSerializer } from '../engine/serializer';

/*
 * Queue payloads are the cache's tagged JSON (engine/serializer.ts): text, readable in
 * redis-cli and in dead letters, and Date, BigInt, Buffer columns come back as they went in.
 */

/** Encodes a row state or primary key for the queue. */
export function encodeRow(value: unknown): string {
  return jsonSerializer.encode(value).toString('utf8');
}

/** Decodes a queue payload. */
export function decodeRow(payload: string): unknown {
  return decodeJsonText(payload);
}
