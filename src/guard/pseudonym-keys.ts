import { createHmac, randomBytes } from 'node:crypto';
import type { EncryptedObjects, KeyManager } from '../keys/index.js';
import type { PseudonymKeys } from './pseudonyms.js';

/** The key-provider key that wraps the pseudonym secret. */
export const PSEUDONYM_KEY = 'guard-pseudonym';
const SECRET = { tenant: 'ztgate', purpose: 'pseudonym-secret', recordId: 'v1' } as const;

/**
 * The pseudonym keys, derived from one 64-byte secret kept envelope-encrypted in the store under
 * the key provider's `guard-pseudonym` key (created at first use): a conversation's HMAC key is
 * HMAC(secret, "conversation\0" + id), the hash key HMAC(secret, "hash"). Destroying the
 * `guard-pseudonym` key versions crypto-shreds every pseudonym and hash ever issued.
 */
export function openPseudonymKeys(
  keys: KeyManager,
  objects: EncryptedObjects,
  actor = 'system:guard',
): (conversationId: string) => Promise<PseudonymKeys> {
  // Loaded (or created) on first use, so a deployment that never pseudonymises holds no such
  // key; a failure is not cached, the next request tries again (and fails closed meanwhile).
  let root: Promise<{ root: Buffer; hash: Buffer }> | undefined;
  const load = async (): Promise<{ root: Buffer; hash: Buffer }> => {
    await keys.ensureKey(PSEUDONYM_KEY, 'aes-256-gcm', actor);
    let secret = await objects.get(SECRET);
    if (!secret) {
      await objects.put(PSEUDONYM_KEY, SECRET, randomBytes(64));
      // Read back: when replicas start together, the last write wins and every one uses it.
      secret = await objects.get(SECRET);
      if (!secret) throw new Error('pseudonym secret could not be stored');
    }
    const key = Buffer.from(secret);
    return { root: key, hash: createHmac('sha256', key).update('hash').digest() };
  };
  return async (conversationId) => {
    root ??= load().catch((err: unknown) => {
      root = undefined;
      throw err;
    });
    const k = await root;
    return {
      conversation: createHmac('sha256', k.root).update(`conversation\0${conversationId}`).digest(),
      hash: k.hash,
    };
  };
}
