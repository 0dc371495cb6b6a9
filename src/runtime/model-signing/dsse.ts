/**
 * DSSE (https://github.com/secure-systems-lab/dsse, protocol v1) over node:crypto, with the
 * conventions of model_signing: ECDSA on P-256/P-384/P-521 with SHA-256/384/512 (by curve size),
 * the signature DER-encoded. Ed25519 (PureEdDSA over the PAE) is accepted as an extension:
 * model_signing's own verifiers take only ECDSA keys, so sign with ECDSA for interoperability.
 */
import {
  createHash,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import type { KeyAlgorithm, KeyInfo, KeyRef, KeySignature, PublicKeyExport } from '../../keys/types.js';
import { ModelSigningError } from './errors.js';
import { pae } from '../../core/dsse.js';

export type DsseAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'ed25519';

const CURVES: Readonly<Record<string, { algorithm: DsseAlgorithm; hash: string; size: number }>> = {
  prime256v1: { algorithm: 'ecdsa-p256', hash: 'sha256', size: 32 },
  secp384r1: { algorithm: 'ecdsa-p384', hash: 'sha384', size: 48 },
  secp521r1: { algorithm: 'ecdsa-p521', hash: 'sha512', size: 66 },
};

/** Sigstore's `keyDetails` names, as the v1.0.x bundles carry them. */
export const KEY_DETAILS: Readonly<Record<DsseAlgorithm, string>> = {
  'ecdsa-p256': 'PKIX_ECDSA_P256_SHA_256',
  'ecdsa-p384': 'PKIX_ECDSA_P384_SHA_384',
  'ecdsa-p521': 'PKIX_ECDSA_P521_SHA_512',
  ed25519: 'PKIX_ED25519',
};

export { pae } from '../../core/dsse.js';

/** The DSSE algorithm of a public or private key; throws key_unsupported for anything else. */
export function dsseAlgorithmOf(key: KeyObject): DsseAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec') {
    const curve = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (curve) return curve.algorithm;
  }
  throw new ModelSigningError(
    'key_unsupported',
    `a ${key.asymmetricKeyType ?? 'symmetric'} key cannot sign models (ECDSA P-256/P-384/P-521 or Ed25519)`,
  );
}

function hashOf(algorithm: DsseAlgorithm): string | null {
  if (algorithm === 'ed25519') return null;
  return Object.values(CURVES).find((c) => c.algorithm === algorithm)?.hash ?? null;
}

/** Verifies a DSSE signature (DER for ECDSA) over the PAE of the payload. */
export function verifyDsse(
  publicKey: KeyObject,
  payloadType: string,
  payload: Buffer,
  signature: Buffer,
): boolean {
  const algorithm = dsseAlgorithmOf(publicKey);
  try {
    return nodeVerify(
      hashOf(algorithm),
      pae(payloadType, payload),
      { key: publicKey, dsaEncoding: 'der' },
      signature,
    );
  } catch {
    return false;
  }
}

/**
 * model_signing's key hint: SHA-256 (hex) of the key's SubjectPublicKeyInfo PEM, as Python's
 * `cryptography` writes it (64-column base64, `\n` line ends) — the same text node:crypto writes.
 */
export function publicKeyHint(publicKey: KeyObject): string {
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  return createHash('sha256').update(pem).digest('hex');
}

function derInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let value = bytes.subarray(i);
  if ((value[0] ?? 0) & 0x80) value = Buffer.concat([Buffer.from([0]), value]);
  return Buffer.concat([Buffer.from([0x02]), derLength(value.length), value]);
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x100) return Buffer.from([0x81, length]);
  return Buffer.from([0x82, length >> 8, length & 0xff]);
}

/** IEEE P1363 `r || s` (what KeyProvider.sign returns for ECDSA) to the DER form DSSE bundles carry. */
export function p1363ToDer(signature: Uint8Array): Buffer {
  const raw = Buffer.from(signature);
  if (raw.length === 0 || raw.length % 2 !== 0)
    throw new RangeError('a P1363 signature has an even, non-zero length');
  const half = raw.length / 2;
  const body = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

/** Whatever can sign a DSSE PAE: a private key, a KeyProvider/KeyManager key. */
export interface DsseSigner {
  readonly algorithm: DsseAlgorithm;
  readonly publicKey: KeyObject;
  /** A description for logs (`key ledger@2`, `local private key`). */
  readonly description: string;
  /** Signs the PAE bytes: DER for ECDSA, 64 raw bytes for Ed25519. */
  sign(data: Buffer): Promise<Buffer>;
}

/** A signer over a private KeyObject (tests, keys held by the caller). */
export function privateKeySigner(privateKey: KeyObject): DsseSigner {
  const publicKey = createPublicKey(privateKey);
  const algorithm = dsseAlgorithmOf(publicKey);
  return {
    algorithm,
    publicKey,
    description: `local ${algorithm} key`,
    sign: async (data) => nodeSign(hashOf(algorithm), data, { key: privateKey, dsaEncoding: 'der' }),
  };
}

/** The part of a KeyProvider (or KeyManager) a model signer needs. */
export interface SigningKeys {
  describeKey(name: string): Promise<KeyInfo>;
  sign(name: string, data: Uint8Array): Promise<KeySignature>;
  publicKey(ref: KeyRef): Promise<PublicKeyExport>;
}

const KEY_ALGORITHMS: Readonly<Partial<Record<KeyAlgorithm, DsseAlgorithm>>> = {
  'ecdsa-p256': 'ecdsa-p256',
  'ecdsa-p384': 'ecdsa-p384',
  ed25519: 'ed25519',
};

/**
 * A signer over a ztgate key (its primary version). The provider signs ECDSA as P1363 `r || s`;
 * the signature is converted to DER and checked against the exported public key before use, so
 * a rotation between reading the key and signing cannot produce a signature under another key.
 */
export async function keyProviderSigner(keys: SigningKeys, name: string): Promise<DsseSigner> {
  const info = await keys.describeKey(name);
  const algorithm = KEY_ALGORITHMS[info.algorithm];
  if (!algorithm) {
    throw new ModelSigningError(
      'key_unsupported',
      `key ${name} is ${info.algorithm}; models are signed with ecdsa-p256, ecdsa-p384 or ed25519`,
    );
  }
  const ref: KeyRef = { name, version: info.primaryVersion };
  const exported = await keys.publicKey(ref);
  const publicKey = createPublicKey(exported.spkiPem);
  return {
    algorithm,
    publicKey,
    description: `key ${name}@${ref.version}`,
    sign: async (data) => {
      const signed = await keys.sign(name, data);
      if (signed.keyId.name !== name || signed.keyId.version !== ref.version) {
        throw new ModelSigningError(
          'key_mismatch',
          `key ${name} was rotated while signing (signed with @${signed.keyId.version}, expected @${ref.version}); sign again`,
        );
      }
      const signature =
        algorithm === 'ed25519' ? Buffer.from(signed.signature) : p1363ToDer(signed.signature);
      if (!nodeVerify(hashOf(algorithm), data, { key: publicKey, dsaEncoding: 'der' }, signature)) {
        throw new ModelSigningError(
          'signature_invalid',
          `key ${name}@${ref.version} made a signature that does not verify`,
        );
      }
      return signature;
    },
  };
}
