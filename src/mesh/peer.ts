import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import { MeshError } from './errors.js';
import type { RevocationList } from './revocation.js';
import { parseWorkloadId, type SpiffeAllowList, type SpiffeId } from './spiffe.js';
import { certificateFacts, type CertificateFacts } from './x509.js';

/** What one listener or upstream accepts from the other end of a connection. */
export interface PeerPolicy {
  /** The trust domain whose bundle verified the chain: the peer's ID must be in it. */
  readonly trustDomain: string;
  /** Undefined: any workload ID of the trust domain (the pipeline authorises it later). */
  readonly allow: SpiffeAllowList | undefined;
  readonly revocations: RevocationList;
  readonly now?: () => number;
}

/** A peer whose chain, SVID form, trust domain, revocation state and allow-list entry were checked. */
export interface VerifiedPeer {
  readonly spiffeId: SpiffeId;
  /** The leaf's serial, upper-case hex. */
  readonly serialNumber: string;
  readonly fingerprint256: string;
  /** Seconds since the epoch. */
  readonly notAfter: number;
  /** Serials of the whole chain the peer sent (leaf first), for re-checks against revocation. */
  readonly chainSerials: readonly string[];
}

function notSvid(why: string): MeshError {
  return new MeshError('peer_not_svid', `the peer's certificate is not an X.509-SVID: ${why}`);
}

/** Checks the X.509-SVID leaf rules (SPIFFE X509-SVID §5.2) and returns the SPIFFE ID. */
function svidId(leaf: CertificateFacts): SpiffeId {
  if (leaf.isCa) throw notSvid('it is a CA certificate');
  if (leaf.keyCertSign || leaf.crlSign) throw notSvid('its key usage allows signing certificates');
  if (!leaf.digitalSignature) throw notSvid('its key usage lacks digitalSignature');
  if (leaf.uris.length === 0) throw notSvid('it has no URI SAN (no SPIFFE ID)');
  if (leaf.uris.length > 1) throw notSvid(`it has ${leaf.uris.length} URI SANs; an SVID has exactly one`);
  return parseWorkloadId(leaf.uris[0] ?? '');
}

/**
 * Verifies a peer whose chain node:tls has already verified against the trust bundle: the leaf
 * is an X.509-SVID in the policy's trust domain, currently valid, no certificate of the chain is
 * revoked, and its ID is allowed. Throws MeshError; never returns a half-checked peer.
 */
export function verifyPeerChain(chain: readonly Uint8Array[], policy: PeerPolicy): VerifiedPeer {
  const [leafDer] = chain;
  if (!leafDer) throw new MeshError('peer_certificate_missing', 'the peer sent no certificate');
  let facts: CertificateFacts[];
  try {
    facts = chain.map((der) => certificateFacts(der));
  } catch (err) {
    throw new MeshError('peer_not_svid', 'the peer certificate cannot be parsed', { cause: err });
  }
  const leaf = facts[0]!;
  const id = svidId(leaf);
  const now = (policy.now ?? Date.now)();
  if (now < leaf.notBefore.getTime() || now > leaf.notAfter.getTime()) {
    throw new MeshError(
      'peer_certificate_untrusted',
      `the certificate of ${id.id} is expired or not yet valid`,
    );
  }
  if (id.trustDomain !== policy.trustDomain) {
    throw new MeshError(
      'peer_trust_domain_mismatch',
      `${id.id} is not in trust domain ${policy.trustDomain}, the one the trust bundle speaks for`,
    );
  }
  const revoked = facts.find((f) => policy.revocations.isRevoked(f.serial));
  if (revoked) {
    throw new MeshError(
      'certificate_revoked',
      `certificate ${revoked.serial} in the chain of ${id.id} is revoked`,
    );
  }
  if (policy.allow && !policy.allow.allows(id)) {
    throw new MeshError('peer_not_allowed', `${id.id} is not on the allow-list`);
  }
  return {
    spiffeId: id,
    serialNumber: leaf.serial,
    fingerprint256: leaf.fingerprint256,
    notAfter: Math.floor(leaf.notAfter.getTime() / 1000),
    chainSerials: facts.map((f) => f.serial),
  };
}

/** The DER chain of a peer certificate as node reports it (leaf first, stops at a self-signed one). */
export function chainOf(cert: PeerCertificate | DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = [];
  const seen = new Set<PeerCertificate>();
  let current: PeerCertificate | undefined = cert;
  while (current && current.raw && !seen.has(current) && chain.length < 10) {
    seen.add(current);
    chain.push(current.raw);
    const next: DetailedPeerCertificate | undefined = (current as Partial<DetailedPeerCertificate>)
      .issuerCertificate;
    current = next && next !== current ? next : undefined;
  }
  return chain;
}

/**
 * Verifies the client of a TLS connection. `required`: no certificate is `peer_certificate_missing`.
 * A certificate that node:tls did not authorise (other CA, expired, …) is always refused, even
 * when certificates are optional: a presented credential that does not verify is never ignored.
 */
export function verifyTlsPeer(
  socket: TLSSocket,
  policy: PeerPolicy,
  required: boolean,
): VerifiedPeer | undefined {
  const cert = socket.getPeerCertificate(true);
  if (!cert || !cert.raw) {
    if (required) throw new MeshError('peer_certificate_missing', 'the peer sent no client certificate');
    return undefined;
  }
  if (!socket.authorized) {
    const reason = String(socket.authorizationError ?? 'unknown');
    throw new MeshError(
      'peer_certificate_untrusted',
      `the peer's certificate chain does not verify: ${reason}`,
    );
  }
  return verifyPeerChain(chainOf(cert), policy);
}

/** Re-checks a verified peer on a later request of the same connection (revocation, expiry). */
export function recheckPeer(peer: VerifiedPeer, policy: PeerPolicy): void {
  const now = (policy.now ?? Date.now)();
  if (now > peer.notAfter * 1000) {
    throw new MeshError('peer_certificate_untrusted', `the certificate of ${peer.spiffeId.id} has expired`);
  }
  const revoked = peer.chainSerials.find((serial) => policy.revocations.isRevoked(serial));
  if (revoked)
    throw new MeshError('certificate_revoked', `certificate ${revoked} of ${peer.spiffeId.id} is revoked`);
}
