/**
 * The KeyProvider contract. Every module that needs a key (ledger signing, the pseudonym vault,
 * the CA, sealed config secrets) gets it through a provider, by name; key material of a
 * key-encryption or signing key never leaves the provider through this interface. Only data keys
 * (fresh random AES-256 keys that encrypt one object or one period's objects) are handed to the
 * application, as envelope encryption requires.
 */

/** `aes-256-gcm`: a key-encryption key (wrap/unwrap data keys). The others sign and verify. */
export type KeyAlgorithm = 'aes-256-gcm' | 'ed25519' | 'ecdsa-p256' | 'ecdsa-p384';

export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['aes-256-gcm', 'ed25519', 'ecdsa-p256', 'ecdsa-p384'];

/** `active`: usable (only the primary version wraps or signs; older ones unwrap or verify).
 *  `disabled`: refused until enabled again. `destroyed`: gone for good. */
export type KeyVersionState = 'active' | 'disabled' | 'destroyed';

export interface KeyVersionInfo {
  readonly version: number;
  readonly state: KeyVersionState;
  /** ISO-8601. */
  readonly createdAt: string;
  readonly destroyedAt?: string;
}

export interface KeyInfo {
  readonly name: string;
  readonly algorithm: KeyAlgorithm;
  /** The version new wraps and signatures use: always the highest version. */
  readonly primaryVersion: number;
  /** Ascending by version. */
  readonly versions: readonly KeyVersionInfo[];
}

/** A versioned key id, written `name@version` (for example `ledger-signing@3`). */
export interface KeyRef {
  readonly name: string;
  readonly version: number;
}

/** A data key wrapped (encrypted) under a key-encryption key version. `bytes` is opaque. */
export interface WrappedKey {
  readonly keyId: KeyRef;
  readonly bytes: Buffer;
}

/** Ed25519: 64 raw bytes. ECDSA: IEEE P1363 `r || s` (as JWS), over SHA-256 (P-256) or SHA-384 (P-384). */
export interface KeySignature {
  readonly keyId: KeyRef;
  readonly signature: Buffer;
}

export interface PublicKeyExport {
  readonly keyId: KeyRef;
  readonly algorithm: KeyAlgorithm;
  /** SubjectPublicKeyInfo, PEM. */
  readonly spkiPem: string;
  /** The same key as a JWK (`kty`, `crv`, `x`, `y`), with `kid` set to the key id. */
  readonly jwk: Readonly<Record<string, string>>;
}

/**
 * One provider of keys. Implementations: local (sealed file), pkcs11 (HSM), vault-transit.
 *
 * Rules every implementation keeps (the provider contract tests check them):
 * - Versions start at 1 and only grow; rotate adds version primary+1 and makes it primary.
 * - wrapKey and sign always use the primary version; unwrapKey, verify and publicKey take any
 *   version that is active. A disabled version fails with `key_disabled`, a destroyed one with
 *   `key_destroyed`, an unknown one with `key_version_not_found`, an unknown name `key_not_found`.
 * - The primary version cannot be disabled or destroyed (rotate first): `unsupported_operation`.
 * - destroyVersion is irreversible: the key material is deleted, not just marked.
 * - `aad` binds a wrapped data key to its context; unwrapping with other aad fails with
 *   `unwrap_failed`, as does a tampered wrapped key.
 * - Errors are KeyErrors; nothing secret appears in their messages.
 */
export interface KeyProvider {
  /** `local`, `pkcs11`, `vault-transit`. */
  readonly kind: string;
  /** One line for the start-up log: what the provider is and what it protects against. */
  readonly description: string;

  listKeys(): Promise<readonly KeyInfo[]>;
  describeKey(name: string): Promise<KeyInfo>;
  createKey(name: string, algorithm: KeyAlgorithm): Promise<KeyInfo>;
  rotateKey(name: string): Promise<KeyInfo>;
  disableVersion(ref: KeyRef): Promise<KeyInfo>;
  enableVersion(ref: KeyRef): Promise<KeyInfo>;
  destroyVersion(ref: KeyRef): Promise<KeyInfo>;

  /** Wraps a data key (16–64 bytes) under the primary version of an `aes-256-gcm` key. */
  wrapKey(name: string, dataKey: Uint8Array, aad: Uint8Array): Promise<WrappedKey>;
  unwrapKey(wrapped: WrappedKey, aad: Uint8Array): Promise<Buffer>;
  /**
   * Optional: a fresh 32-byte data key and its wrapped form in one call (Vault's datakey). When
   * absent, the caller generates the key with node:crypto and calls wrapKey.
   */
  generateDataKey?(name: string, aad: Uint8Array): Promise<{ plaintext: Buffer; wrapped: WrappedKey }>;
  /**
   * Optional: re-wraps a wrapped data key under the primary version without returning it to the
   * caller (Vault's rewrap). When absent, the caller unwraps and wraps.
   */
  rewrapKey?(wrapped: WrappedKey, aad: Uint8Array): Promise<WrappedKey>;

  sign(name: string, data: Uint8Array): Promise<KeySignature>;
  /** False for a signature that does not verify; throws only when the key cannot be used. */
  verify(ref: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean>;
  publicKey(ref: KeyRef): Promise<PublicKeyExport>;

  /** Throws a KeyError when the provider cannot serve right now (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
