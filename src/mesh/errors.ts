/**
 * Errors of the mesh (mutual TLS with SPIFFE IDs). Each has a stable `code`; messages name IDs,
 * serial numbers and files, never key material.
 */
export type MeshErrorCode =
  /** A string is not a valid SPIFFE ID (or trust domain, or allow-list pattern). */
  | 'spiffe_id_invalid'
  /** The peer sent no certificate (and one is required). */
  | 'peer_certificate_missing'
  /** The peer's certificate chain does not verify against the trust bundle (other CA, expired, …). */
  | 'peer_certificate_untrusted'
  /** The peer's leaf certificate is not an X.509-SVID (no URI SAN, two URI SANs, a CA certificate, …). */
  | 'peer_not_svid'
  /** The peer's SPIFFE ID is in another trust domain than the mesh's. */
  | 'peer_trust_domain_mismatch'
  /** The peer's SPIFFE ID is not on the allow-list. */
  | 'peer_not_allowed'
  /** A certificate of the peer's chain is on the revocation list. */
  | 'certificate_revoked'
  /** The built-in CA has not been created (`ztgate ca init`). */
  | 'ca_not_initialized'
  /** `ztgate ca init` found a CA already there. */
  | 'ca_exists'
  /** The CA's certificates and its keys in the key provider do not match, or a certificate is bad. */
  | 'ca_invalid'
  /** A trust bundle cannot be read or holds no usable CA certificate. */
  | 'trust_bundle_invalid'
  /** A workload SVID could not be issued or renewed. */
  | 'svid_issue_failed'
  /** The revocation list file cannot be read or written. */
  | 'revocation_list_invalid';

export class MeshError extends Error {
  readonly code: MeshErrorCode;

  constructor(code: MeshErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeshError';
    this.code = code;
  }
}

export function isMeshError(err: unknown, code?: MeshErrorCode): err is MeshError {
  return err instanceof MeshError && (code === undefined || err.code === code);
}
