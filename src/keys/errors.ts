/**
 * Errors of the key layer. Each has a stable `code`; the message is for operators and never holds
 * key material, plaintext, PINs or tokens. A stage that needs a key and gets a KeyError fails
 * closed with its own stage code (see core/errors.ts asStageError); the KeyError goes to the log.
 */
export type KeyErrorCode =
  /** No key of that name. */
  | 'key_not_found'
  /** A key of that name already exists (create). */
  | 'key_exists'
  /** The key exists but not that version. */
  | 'key_version_not_found'
  /** The version is disabled: it may not be used until enabled again. */
  | 'key_disabled'
  /** The version was destroyed: what it protected can never be read again (crypto-shredded). */
  | 'key_destroyed'
  /** The operation does not fit the key's algorithm (sign with an AES key, wrap with Ed25519). */
  | 'key_wrong_type'
  /** A name, version or argument is not valid. */
  | 'invalid_argument'
  /** The provider cannot do this (for example Vault can only disable or destroy oldest-first). */
  | 'unsupported_operation'
  /** A wrapped data key did not authenticate under the named key version (tampered or wrong AAD). */
  | 'unwrap_failed'
  /** An envelope's header cannot be parsed (truncated, unknown format, bad lengths). */
  | 'ciphertext_malformed'
  /** An envelope's payload did not authenticate (tampered ciphertext or wrong context/AAD). */
  | 'ciphertext_unauthentic'
  /** The local provider's master key is missing, malformed or does not open the key store. */
  | 'master_key_invalid'
  /** A key file is readable or writable by others; ztgate refuses to use it. */
  | 'keystore_insecure'
  /** The key store file is corrupt or of an unknown format. */
  | 'keystore_corrupt'
  /** PKCS#11: the module (shared library) cannot be loaded. */
  | 'hsm_module_missing'
  /** PKCS#11: no token with the configured label or slot is present. */
  | 'hsm_token_absent'
  /** PKCS#11: the PIN was refused (or the token is locked). */
  | 'hsm_pin_incorrect'
  /** PKCS#11: the token reported an error during an operation. */
  | 'hsm_error'
  /** A remote provider (Vault) could not be reached or timed out. */
  | 'provider_unreachable'
  /** A remote provider refused the credentials (Vault 401/403). */
  | 'provider_denied'
  /** A remote provider answered with something unexpected. */
  | 'provider_error'
  /** The key provider is closed. */
  | 'provider_closed'
  /** The operation was done, but its audit row could not be written. */
  | 'audit_unavailable';

export class KeyError extends Error {
  readonly code: KeyErrorCode;

  constructor(code: KeyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeyError';
    this.code = code;
  }
}

export function isKeyError(err: unknown, code?: KeyErrorCode): err is KeyError {
  return err instanceof KeyError && (code === undefined || err.code === code);
}
