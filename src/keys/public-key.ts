import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { formatKeyRef, SIGNATURE_SHAPE } from './key-id.js';
import type { KeyAlgorithm, KeyRef, PublicKeyExport } from './types.js';

type SigningAlgorithm = Exclude<KeyAlgorithm, 'aes-256-gcm'>;

/** Builds the public export (PEM and JWK) of a key version from a node KeyObject. */
export function exportPublicKey(ref: KeyRef, algorithm: KeyAlgorithm, key: KeyObject): PublicKeyExport {
  const jwk = key.export({ format: 'jwk' }) as Record<string, string>;
  return {
    keyId: ref,
    algorithm,
    spkiPem: key.export({ format: 'pem', type: 'spki' }).toString(),
    jwk: { ...jwk, kid: formatKeyRef(ref) },
  };
}

/** Reads a public key given as SPKI PEM or DER. */
export function publicKeyFrom(spki: string | Buffer): KeyObject {
  return typeof spki === 'string'
    ? createPublicKey(spki)
    : createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

/**
 * Verifies a signature in ztgate's format (Ed25519 raw, ECDSA IEEE P1363) with node:crypto. Used by
 * providers that keep only the public half in the clear and by offline verifiers.
 */
export function verifyWithPublicKey(
  algorithm: SigningAlgorithm,
  key: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const shape = SIGNATURE_SHAPE[algorithm];
  if (signature.length !== shape.bytes) return false;
  if (algorithm === 'ed25519') return nodeVerify(null, data, key, signature);
  return nodeVerify(shape.hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
}
