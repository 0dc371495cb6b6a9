/**
 * Vault Transit key descriptions and value formats, as the vault-transit provider reads them.
 *
 * Read key (GET /v1/:mount/keys/:name), from https://developer.hashicorp.com/vault/api-docs/secret/transit#read-key
 * and hashicorp/vault builtin/logical/transit/path_keys.go (formatKeyPolicy):
 *   data.type, latest_version, min_decryption_version, min_encryption_version, min_available_version,
 *   deletion_allowed, ... and data.keys: version → creation time in Unix seconds (AES keys) or
 *   version → {name, public_key, certificate_chain, creation_time (RFC 3339)} (signing keys).
 *   `public_key` is base64 of the raw 32 bytes for ed25519 and a PEM SubjectPublicKeyInfo for ECDSA.
 *   Versions below min_decryption_version are archived by Vault (sdk/helper/keysutil/policy.go,
 *   handleArchiving) and do not appear in `keys`; versions below min_available_version were trimmed.
 * Ciphertexts and signatures are `vault:v<version>:<base64>` (keysutil DefaultVersionTemplate);
 * with marshaling_algorithm=jws an ECDSA signature is r||s in unpadded base64url (policy.go, Sign).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { KeyError } from '../errors.js';
import { SIGNATURE_SHAPE } from '../key-id.js';
import type { KeyAlgorithm, KeyInfo, KeyVersionInfo, KeyVersionState } from '../types.js';

export type SigningAlgorithm = Exclude<KeyAlgorithm, 'aes-256-gcm'>;

/** Our algorithm → Vault's key `type` (create key, `type`). */
export const VAULT_TYPE: Readonly<Record<KeyAlgorithm, string>> = {
  'aes-256-gcm': 'aes256-gcm96',
  ed25519: 'ed25519',
  'ecdsa-p256': 'ecdsa-p256',
  'ecdsa-p384': 'ecdsa-p384',
};

const ALGORITHM_OF: ReadonlyMap<string, KeyAlgorithm> = new Map(
  Object.entries(VAULT_TYPE).map(([ours, vault]) => [vault, ours as KeyAlgorithm]),
);

/** The `:hash_algorithm` path segment of sign/verify; ed25519 hashes internally and takes none. */
export const VAULT_HASH: Readonly<Record<SigningAlgorithm, string | null>> = {
  ed25519: null,
  'ecdsa-p256': 'sha2-256',
  'ecdsa-p384': 'sha2-384',
};

/** What we use of a version: its creation time, and the public key of signing keys. */
export interface VaultKeyVersion {
  readonly createdAt: string;
  readonly publicKey?: string;
}

/** A Vault key as read, with its KeyInfo in our terms. */
export interface VaultKey {
  readonly info: KeyInfo;
  readonly latest: number;
  readonly minDecryption: number;
  readonly minEncryption: number;
  readonly minAvailable: number;
  /** Only the versions Vault still returns (min_decryption_version and up). */
  readonly versions: ReadonlyMap<number, VaultKeyVersion>;
}

/** Vault does not report when an archived or trimmed version was created. */
export const UNKNOWN_TIME = new Date(0).toISOString();

const SigningEntry = z.object({ public_key: z.string(), creation_time: z.string() });
const KeyData = z.object({
  type: z.string(),
  latest_version: z.number().int().min(1),
  min_decryption_version: z.number().int().min(0),
  min_encryption_version: z.number().int().min(0).default(0),
  min_available_version: z.number().int().min(0).default(0),
  keys: z.record(z.string(), z.union([z.number(), SigningEntry])),
});

function isoOf(value: number | string): string {
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? UNKNOWN_TIME : date.toISOString();
}

/** Whether a read-key answer is a key of a type ztgate uses (other keys are left alone). */
export function isUsableType(data: Readonly<Record<string, unknown>> | undefined): boolean {
  return typeof data?.type === 'string' && ALGORITHM_OF.has(data.type);
}

/** Turns the `data` of a read-key answer into a VaultKey. */
export function parseVaultKey(name: string, data: Readonly<Record<string, unknown>> | undefined): VaultKey {
  const parsed = KeyData.safeParse(data);
  if (!parsed.success) {
    throw new KeyError(
      'provider_error',
      `vault-transit: Vault's description of key ${name} has an unexpected shape`,
    );
  }
  const d = parsed.data;
  const algorithm = ALGORITHM_OF.get(d.type);
  if (!algorithm) {
    throw new KeyError(
      'unsupported_operation',
      `vault-transit: key ${name} is a Vault ${d.type} key, which ztgate does not use`,
    );
  }
  const versions = new Map<number, VaultKeyVersion>();
  for (const [version, entry] of Object.entries(d.keys)) {
    versions.set(
      Number(version),
      typeof entry === 'number'
        ? { createdAt: isoOf(entry) }
        : { createdAt: isoOf(entry.creation_time), publicKey: entry.public_key },
    );
  }
  const minDecryption = Math.max(d.min_decryption_version, 1);
  const list: KeyVersionInfo[] = [];
  for (let version = 1; version <= d.latest_version; version++) {
    const state: KeyVersionState =
      version < d.min_available_version ? 'destroyed' : version < minDecryption ? 'disabled' : 'active';
    list.push({ version, state, createdAt: versions.get(version)?.createdAt ?? UNKNOWN_TIME });
  }
  return {
    info: { name, algorithm, primaryVersion: d.latest_version, versions: list },
    latest: d.latest_version,
    minDecryption,
    minEncryption: d.min_encryption_version,
    minAvailable: d.min_available_version,
    versions,
  };
}

const VERSIONED = /^vault:v([1-9][0-9]{0,8}):([A-Za-z0-9+/_=-]*)$/;

/** `vault:v3:...` → { version: 3, body: '...' }, or null when the text is not of that form. */
export function parseVersioned(text: string): { version: number; body: string } | null {
  const match = VERSIONED.exec(text);
  return match ? { version: Number(match[1]), body: match[2] as string } : null;
}

/** ECDSA signatures travel as JWS (r||s, base64url), ed25519 ones as plain base64 of the 64 bytes. */
export function decodeSignature(algorithm: SigningAlgorithm, body: string): Buffer {
  return Buffer.from(body, algorithm === 'ed25519' ? 'base64' : 'base64url');
}

export function encodeSignature(algorithm: SigningAlgorithm, signature: Uint8Array): string {
  return Buffer.from(signature).toString(algorithm === 'ed25519' ? 'base64' : 'base64url');
}

export function hasSignatureShape(algorithm: SigningAlgorithm, signature: Uint8Array): boolean {
  return signature.length === SIGNATURE_SHAPE[algorithm].bytes;
}

const CURVE: Readonly<Record<Exclude<SigningAlgorithm, 'ed25519'>, string>> = {
  'ecdsa-p256': 'prime256v1',
  'ecdsa-p384': 'secp384r1',
};

/** The KeyObject of a version's `public_key` (base64 raw for ed25519, PEM for ECDSA). */
export function publicKeyObject(algorithm: SigningAlgorithm, formatted: string, id: string): KeyObject {
  const bad = new KeyError(
    'provider_error',
    `vault-transit: Vault returned an unusable public key for ${id}`,
  );
  try {
    if (algorithm === 'ed25519') {
      const raw = Buffer.from(formatted, 'base64');
      if (raw.length !== 32) throw bad;
      return createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
        format: 'jwk',
      });
    }
    const key = createPublicKey(formatted);
    const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
    if (curve !== CURVE[algorithm]) throw bad;
    return key;
  } catch {
    throw bad;
  }
}
