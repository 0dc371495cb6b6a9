import { KeyError } from './errors.js';
import { formatKeyRef, parseKeyRef } from './key-id.js';
import type { KeyManager } from './key-manager.js';
import { parseEnvelope, type EnvelopeContext } from './envelope-format.js';

/** The key that seals secrets in ztgate.yaml. */
export const CONFIG_SECRETS_KEY = 'config-secrets';
const PREFIX = 'sealed:';
/** A sealed value not bound to one config key may be used at any key. */
const UNBOUND = '*';
const SEALED = /^sealed:([a-z0-9][a-z0-9-]{0,62}@[1-9][0-9]{0,8}):([A-Za-z0-9_-]{40,})$/;

export function isSealedRef(ref: string): boolean {
  return ref.startsWith(PREFIX);
}

function contextFor(boundTo: string): EnvelopeContext {
  return { tenant: '_system', recordId: boundTo, purpose: 'config-secret' };
}

/**
 * Seals a secret into a reference that ztgate.yaml may hold: `sealed:<key-id>:<envelope, base64url>`.
 * With `boundTo` (a config path such as `upstreams.openai.apiKey`) the value opens only there.
 */
export async function sealSecret(
  keys: KeyManager,
  value: string,
  actor: string,
  boundTo?: string,
): Promise<string> {
  if (value.length === 0) throw new KeyError('invalid_argument', 'an empty secret cannot be sealed');
  await keys.ensureKey(CONFIG_SECRETS_KEY, 'aes-256-gcm', actor);
  const envelope = await keys.encrypt(
    CONFIG_SECRETS_KEY,
    Buffer.from(value, 'utf8'),
    contextFor(boundTo ?? UNBOUND),
  );
  return `${PREFIX}${formatKeyRef(parseEnvelope(envelope).keyId)}:${envelope.toString('base64url')}`;
}

/** Opens a sealed reference found at config path `where`. Errors never contain the value. */
export async function unsealSecret(keys: KeyManager, ref: string, where: string): Promise<string> {
  const match = SEALED.exec(ref);
  if (!match)
    throw new KeyError('ciphertext_malformed', 'not a sealed secret (sealed:<key-id>:<ciphertext>)');
  const envelope = Buffer.from(match[2] as string, 'base64url');
  const header = parseEnvelope(envelope);
  if (formatKeyRef(header.keyId) !== formatKeyRef(parseKeyRef(match[1] as string))) {
    throw new KeyError(
      'ciphertext_malformed',
      'the key id of the sealed secret does not match its ciphertext',
    );
  }
  let plaintext: Buffer;
  try {
    plaintext = await keys.decrypt(envelope, contextFor(where));
  } catch (err) {
    if (!(err instanceof KeyError) || err.code !== 'ciphertext_unauthentic') throw err;
    plaintext = await keys.decrypt(envelope, contextFor(UNBOUND));
  }
  const value = plaintext.toString('utf8');
  plaintext.fill(0);
  return value;
}

/** Re-wraps a sealed reference under the primary version of its key (payload untouched). */
export async function rewrapSealedSecret(keys: KeyManager, ref: string): Promise<string | undefined> {
  const match = SEALED.exec(ref);
  if (!match)
    throw new KeyError('ciphertext_malformed', 'not a sealed secret (sealed:<key-id>:<ciphertext>)');
  const next = await keys.rewrap(Buffer.from(match[2] as string, 'base64url'), {
    tenant: '_system',
    purpose: 'config-secret',
  });
  if (!next) return undefined;
  return `${PREFIX}${formatKeyRef(parseEnvelope(next).keyId)}:${next.toString('base64url')}`;
}
