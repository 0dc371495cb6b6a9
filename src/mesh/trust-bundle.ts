import { MeshError } from './errors.js';
import { parseTrustDomain } from './spiffe.js';
import { certificateFacts, derToPem, pemCertificates } from './x509.js';

/**
 * The CA certificates that vouch for the SVIDs of one trust domain. Node's TLS layer verifies a
 * peer's chain against `pem`; the mesh then checks that the peer's SPIFFE ID is in
 * `trustDomain` (a bundle speaks for its own trust domain only).
 */
export interface TrustBundle {
  readonly trustDomain: string;
  /** DER CA certificates. */
  readonly certificates: readonly Buffer[];
  /** The same, PEM concatenated: the `ca` option of node:tls. */
  readonly pem: string;
  /** `built-in` (the built-in CA's root) or the file it came from. */
  readonly source: string;
}

function bundle(trustDomain: string, certificates: Buffer[], source: string): TrustBundle {
  if (certificates.length === 0) {
    throw new MeshError('trust_bundle_invalid', `${source} holds no X.509 CA certificate`);
  }
  certificates.forEach((der, i) => {
    let isCa: boolean;
    try {
      isCa = certificateFacts(der).isCa;
    } catch (err) {
      throw new MeshError('trust_bundle_invalid', `${source}: certificate ${i + 1} cannot be parsed`, {
        cause: err,
      });
    }
    if (!isCa)
      throw new MeshError('trust_bundle_invalid', `${source}: certificate ${i + 1} is not a CA certificate`);
  });
  return {
    trustDomain: parseTrustDomain(trustDomain),
    certificates,
    pem: certificates.map(derToPem).join(''),
    source,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const KNOWN_KEY_TYPES = new Set(['EC', 'RSA', 'OKP']);

/**
 * The X.509 CA certificates of a SPIFFE bundle (a JWK Set, SPIFFE Trust Domain and Bundle §4 and
 * X509-SVID §6.2): every key with `use: "x509-svid"` and a known `kty` contributes the first
 * `x5c` entry (standard base64 DER); keys of other uses (`jwt-svid`) or unknown types, and keys
 * without `x5c`, are ignored as the standard says. `spiffe_sequence` and `spiffe_refresh_hint`
 * are not needed to verify and are not used.
 */
export function spiffeBundleCertificates(json: string, source: string): Buffer[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new MeshError('trust_bundle_invalid', `${source} is not valid JSON`);
  }
  if (!isRecord(value) || !Array.isArray(value.keys)) {
    throw new MeshError(
      'trust_bundle_invalid',
      `${source}: a SPIFFE bundle is a JWK Set with a "keys" array`,
    );
  }
  const certificates: Buffer[] = [];
  for (const key of value.keys) {
    if (!isRecord(key) || key.use !== 'x509-svid') continue;
    if (typeof key.kty !== 'string' || !KNOWN_KEY_TYPES.has(key.kty)) continue;
    const first: unknown = Array.isArray(key.x5c) ? key.x5c[0] : undefined;
    if (typeof first !== 'string' || first === '') continue;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(first)) {
      throw new MeshError('trust_bundle_invalid', `${source}: an x5c entry is not base64`);
    }
    certificates.push(Buffer.from(first, 'base64'));
  }
  return certificates;
}

/**
 * Reads a trust bundle for `trustDomain` from text: PEM certificates, or a SPIFFE bundle (JWKS).
 * Anything else, a private key, or a certificate that is not a CA is refused.
 */
export function parseTrustBundle(text: string, trustDomain: string, source: string): TrustBundle {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new MeshError(
      'trust_bundle_invalid',
      `${source} holds a private key; a trust bundle holds certificates only`,
    );
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) return bundle(trustDomain, spiffeBundleCertificates(trimmed, source), source);
  if (trimmed.includes('-----BEGIN CERTIFICATE-----'))
    return bundle(trustDomain, pemCertificates(trimmed), source);
  throw new MeshError(
    'trust_bundle_invalid',
    `${source} is neither PEM certificates nor a SPIFFE bundle (JWKS)`,
  );
}

/** The bundle of the built-in CA: its root. */
export function builtInBundle(trustDomain: string, rootPem: string): TrustBundle {
  return bundle(trustDomain, pemCertificates(rootPem), 'built-in');
}
