import { AuthenticationError, type ClientCertificate, type Principal } from '../core/index.js';

/** Which SPIFFE IDs may call the data plane with a client certificate alone. */
export interface ClientCertificatePolicy {
  /** Exact IDs (`spiffe://td/kind/name`) or prefixes ending in `/*` (`spiffe://td/service/*`). */
  readonly allowedSpiffeIds: readonly string[];
}

function allowed(id: string, patterns: readonly string[]): boolean {
  return patterns.some((p) =>
    p.endsWith('/*') ? id.startsWith(p.slice(0, -1)) && id.length > p.length - 1 : id === p,
  );
}

/**
 * A service identified by the client certificate the TLS layer verified against the trust bundle.
 * Its SPIFFE ID must be on the allow-list; a certificate without one is refused.
 */
export function principalOfCertificate(
  certificate: ClientCertificate,
  policy: ClientCertificatePolicy,
): Principal {
  const id = certificate.spiffeId;
  if (!id) throw new AuthenticationError('unauthenticated', { logDetail: 'certificate_without_spiffe_id' });
  if (!allowed(id, policy.allowedSpiffeIds)) {
    throw new AuthenticationError('unauthenticated', { logDetail: 'spiffe_id_not_allowed' });
  }
  const trustDomain = id.slice(0, id.indexOf('/', 'spiffe://'.length));
  return {
    kind: 'service',
    id,
    issuer: trustDomain,
    subject: id,
    authMethod: 'mtls',
    roles: [],
    groups: [],
    expiresAt: certificate.notAfter,
    attributes: { spiffeId: id, certificateSerial: certificate.serialNumber },
  };
}
