import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CacheConfigError } from '../errors';

/**
 * AES-256-GCM for L2 payloads of policies with `encrypt: true`. Keys have ids, so that they
 * can be rotated: new entries use `current`, and entries written under an older key still
 * decrypt while that key is listed. Bytes stored: 12-byte IV, 16-byte tag, ciphertext; the
 * key id travels in the entry header.
 */
export interface EncryptionOptions {
  /** Key id → 32-byte key, as a Buffer or a base64 / hex string. Load them from config or env, never from code. */
  keys: Record<string, string | Buffer>;
  /** The id of the key new entries are written with. */
  current: string;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** A validated key ring. */
export class KeyRing {
  private readonly keys = new Map<string, Buffer>();
  readonly current: string;

  constructor(o: EncryptionOptions) {
    if (!o || typeof o !== 'object' || !o.keys || typeof o.keys !== 'object') {
      throw new CacheConfigError('encryption', o, 'expected { keys: { id: key }, current: id }');
    }
    for (const [id, raw] of Object.entries(o.keys)) {
      if (!KEY_ID.test(id))
        throw new CacheConfigError(`encryption.keys.${id}`, id, 'a key id is 1-32 letters, digits, _ or -');
      const key = toKey(raw);
      if (key === undefined) {
        throw new CacheConfigError(
          `encryption.keys.${id}`,
          '(hidden)',
          'expected 32 bytes: a Buffer, 64 hex digits or 44 base64 characters',
        );
      }
      this.keys.set(id, key);
    }
    if (!this.keys.has(o.current)) {
      throw new CacheConfigError(
        'encryption.current',
        o.current,
        `not one of the key ids (${[...this.keys.keys()].join(', ')})`,
      );
    }
    this.current = o.current;
  }

  /** Encrypts with the current key. */
  seal(plain: Buffer): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.keys.get(this.current)!, iv);
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]);
  }

  /** Decrypts bytes sealed under key `id`; throws for an unknown key or tampered bytes. */
  open(id: string, sealed: Buffer): Buffer {
    const key = this.keys.get(id);
    if (key === undefined) throw new Error(`unknown encryption key id "${id}"`);
    if (sealed.length < 28) throw new Error('encrypted payload too short');
    const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
    d.setAuthTag(sealed.subarray(12, 28));
    return Buffer.concat([d.update(sealed.subarray(28)), d.final()]);
  }
}

function toKey(raw: string | Buffer): Buffer | undefined {
  if (Buffer.isBuffer(raw)) return raw.length === 32 ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  const b = Buffer.from(raw, 'base64');
  return b.length === 32 ? b : undefined;
}

/**
 * Reads a key ring from the environment: `CACHEKIT_ENCRYPTION_KEYS="k2:<base64>,k1:<base64>"`
 * and `CACHEKIT_ENCRYPTION_KEY_ID=k2` (default: the first listed). Undefined when unset.
 */
export function encryptionFromEnv(env: NodeJS.ProcessEnv = process.env): EncryptionOptions | undefined {
  const list = env.CACHEKIT_ENCRYPTION_KEYS;
  if (list === undefined || list.trim() === '') return undefined;
  const keys: Record<string, string> = {};
  let first: string | undefined;
  for (const part of list.split(',')) {
    const at = part.indexOf(':');
    if (at <= 0)
      throw new CacheConfigError(
        'CACHEKIT_ENCRYPTION_KEYS',
        '(hidden)',
        'expected id:key pairs separated by commas',
      );
    const id = part.slice(0, at).trim();
    keys[id] = part.slice(at + 1).trim();
    first ??= id;
  }
  return { keys, current: env.CACHEKIT_ENCRYPTION_KEY_ID ?? first! };
}
