/**
 * Errors of model signing and verification. The code is stable (the CLI prints it, callers and
 * tests match on it); the message is for people and names the file when one is at fault.
 */
export type ModelSigningErrorCode =
  /** The DSSE signature does not verify with the key (or the certificate's key). */
  | 'signature_invalid'
  /** A file's digest differs from the signed one. */
  | 'digest_mismatch'
  /** A signed file is not on disk. */
  | 'file_missing'
  /** A file on disk is neither signed nor ignored. */
  | 'file_unexpected'
  /** The signature file, its envelope or its in-toto statement is not what model_signing writes. */
  | 'payload_malformed'
  /** The key given is not the one the signature names (public-key hint, embedded key or certificate). */
  | 'key_mismatch'
  /** The certificate chain does not lead to a root the user gave, or a certificate cannot sign. */
  | 'chain_invalid'
  /** A path in the model that may not be hashed: a symlink (unless allowed), a special file, unreadable. */
  | 'path_refused'
  /** Nothing to sign or verify: no regular file after the ignored paths are taken out. */
  | 'model_empty'
  /** The signing key cannot make a model signature (an AES key, an unsupported curve). */
  | 'key_unsupported';

export const MODEL_SIGNING_ERROR_CODES: readonly ModelSigningErrorCode[] = [
  'signature_invalid',
  'digest_mismatch',
  'file_missing',
  'file_unexpected',
  'payload_malformed',
  'key_mismatch',
  'chain_invalid',
  'path_refused',
  'model_empty',
  'key_unsupported',
];

export class ModelSigningError extends Error {
  readonly code: ModelSigningErrorCode;
  /** The model-relative POSIX path at fault, when there is one (the first one, by name). */
  readonly file: string | undefined;
  /** Every file in the same situation, when the verifier compared the whole manifest. */
  readonly files: readonly string[];

  constructor(code: ModelSigningErrorCode, message: string, files: readonly string[] = []) {
    super(message);
    this.name = 'ModelSigningError';
    this.code = code;
    this.files = files;
    this.file = files[0];
  }
}

export function isModelSigningError(err: unknown, code?: ModelSigningErrorCode): err is ModelSigningError {
  return err instanceof ModelSigningError && (code === undefined || err.code === code);
}
