/**
 * Who may vouch for a signed policy bundle: the key provider (by key name) or trusted public keys
 * (by key id), and the check of one DSSE signature against them.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isKeyError } from '../keys/errors.js';
import { verifyWithPublicKey } from '../keys/public-key.js';
import type { KeyAlgorithm, KeyRef, PublicKeyExport } from '../keys/types.js';

export const DEFAULT_SIGNING_KEY = 'policy-signing';

/** A KeyManager (or provider): verifies with the key the envelope names. */
export interface SignatureVerifier {
  verify(ref: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** A trusted public key: SPKI PEM, a JWK, or a `keys export-public` result. */
export type TrustedPublicKey = string | JsonWebKey | PublicKeyExport;
/** Trusted public keys by key id (`name@version`), for verification without the key provider. */
export type TrustedKeys = Readonly<Record<string, TrustedPublicKey>> | ReadonlyMap<string, TrustedPublicKey>;

export interface VerifyOptions {
  /**
   * With a SignatureVerifier (key provider), the key names whose signatures count; a signature by
   * any other key of the provider is `key_unknown`. Default `[policy-signing]`. Not used with
   * TrustedKeys, where the given keys are the trust list.
   */
  readonly keyNames?: readonly string[];
}

function isVerifier(x: SignatureVerifier | TrustedKeys): x is SignatureVerifier {
  return typeof (x as { verify?: unknown }).verify === 'function';
}

type SigningAlgorithm = Exclude<KeyAlgorithm, 'aes-256-gcm'>;

function toKeyObject(key: TrustedPublicKey): KeyObject {
  if (typeof key === 'string') return createPublicKey(key);
  if ('spkiPem' in key && typeof key.spkiPem === 'string') return createPublicKey(key.spkiPem);
  return createPublicKey({ key: key as JsonWebKey, format: 'jwk' });
}

function algorithmOf(key: KeyObject): SigningAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ecdsa-p256';
    if (curve === 'secp384r1') return 'ecdsa-p384';
  }
  return undefined;
}

function lookup(keys: TrustedKeys, keyid: string): TrustedPublicKey | undefined {
  if (keys instanceof Map) return (keys as ReadonlyMap<string, TrustedPublicKey>).get(keyid);
  const record = keys as Readonly<Record<string, TrustedPublicKey>>;
  return Object.prototype.hasOwnProperty.call(record, keyid) ? record[keyid] : undefined;
}

/** KeyErrors that mean "this key cannot vouch for anything": reported as key_unknown. */
const UNUSABLE_KEY = [
  'key_not_found',
  'key_version_not_found',
  'key_wrong_type',
  'key_disabled',
  'key_destroyed',
] as const;

/** 'valid', 'invalid', or 'unknown' (with why); other provider failures throw. */
export async function checkOne(
  ref: KeyRef,
  keyid: string,
  data: Buffer,
  sig: Buffer,
  trust: SignatureVerifier | TrustedKeys,
  options: VerifyOptions,
): Promise<{ outcome: 'valid' | 'invalid' } | { outcome: 'unknown'; why: string }> {
  if (isVerifier(trust)) {
    const names = options.keyNames ?? [DEFAULT_SIGNING_KEY];
    if (!names.includes(ref.name))
      return { outcome: 'unknown', why: `${keyid} is not a policy signing key (${names.join(', ')})` };
    try {
      return { outcome: (await trust.verify(ref, data, sig)) ? 'valid' : 'invalid' };
    } catch (err) {
      const code = UNUSABLE_KEY.find((c) => isKeyError(err, c));
      if (code) return { outcome: 'unknown', why: `${keyid}: ${code}` };
      throw err;
    }
  }
  const trusted = lookup(trust, keyid);
  if (trusted === undefined) return { outcome: 'unknown', why: `${keyid} is not a trusted key` };
  const key = toKeyObject(trusted);
  const algorithm = algorithmOf(key);
  if (!algorithm) return { outcome: 'unknown', why: `${keyid} is not an ed25519 or ECDSA key` };
  return { outcome: verifyWithPublicKey(algorithm, key, data, sig) ? 'valid' : 'invalid' };
}
