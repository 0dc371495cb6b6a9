import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { MeshError } from './errors.js';
import type { SpiffeId } from './spiffe.js';
import { derToPem, x509 } from './x509.js';

/** Default lifetime of a workload SVID: short-lived, renewed at two thirds. */
export const SVID_DEFAULT_TTL_MS = 24 * 3_600_000;
/** notBefore is set this far in the past, for clocks that run a little behind. */
export const BACKDATE_MS = 10_000;

/** A certificate issued by a CA, with the chain a workload presents (leaf first, no root). */
export interface IssuedCertificate {
  readonly certificate: Buffer;
  readonly chain: readonly Buffer[];
  /** Upper-case hex (see normalizeSerial). */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Issues X.509-SVIDs for public keys it is given; the built-in CA is one. */
export interface SvidIssuer {
  readonly trustDomain: string;
  /** The root certificates peers verify this issuer's SVIDs with, PEM. */
  readonly bundlePem: string;
  issueSvid(id: SpiffeId, publicKey: KeyObject, ttlMs: number): Promise<IssuedCertificate>;
}

/** A workload's current SVID and its private key. `keyPem` is secret: never log it. */
export interface SvidMaterial {
  readonly spiffeId: SpiffeId;
  /** Leaf then intermediates, PEM: what a TLS endpoint sends as `cert`. */
  readonly chainPem: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** When this process obtained it (ms since the epoch): renewal is at two thirds from here. */
  readonly obtainedAt: number;
}

/** SHA-1 of the subjectPublicKey bits, the usual key identifier (RFC 5280 4.2.1.2 method 1), hex. */
export async function keyIdentifier(spki: Uint8Array): Promise<string> {
  return Buffer.from(await new x509.PublicKey(spki).getKeyIdentifier()).toString('hex');
}

/**
 * The X.509-SVID leaf profile (SPIFFE X509-SVID §4): exactly one URI SAN (the SPIFFE ID), not a
 * CA (basicConstraints cA=false, critical), keyUsage digitalSignature only (critical), EKU
 * serverAuth and clientAuth; subject and authority key identifiers.
 */
export async function svidExtensions(
  id: SpiffeId,
  spki: Uint8Array,
  issuerKeyId: string,
): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: id.id }], false),
    new x509.SubjectKeyIdentifierExtension(await keyIdentifier(spki)),
    new x509.AuthorityKeyIdentifierExtension(issuerKeyId),
  ];
}

/** A fresh P-256 key pair, generated in this process's memory. */
export function newWorkloadKey(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** Generates a key pair and has `issuer` certify it as `id` for `ttlMs`. */
export async function newSvid(issuer: SvidIssuer, id: SpiffeId, ttlMs: number): Promise<SvidMaterial> {
  if (id.trustDomain !== issuer.trustDomain) {
    throw new MeshError(
      'spiffe_id_invalid',
      `${id.id} is not in the CA's trust domain ${issuer.trustDomain}`,
    );
  }
  const { publicKey, privateKey } = newWorkloadKey();
  const obtainedAt = Date.now();
  const issued = await issuer.issueSvid(id, publicKey, ttlMs);
  return {
    spiffeId: id,
    chainPem: issued.chain.map(derToPem).join(''),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    serial: issued.serial,
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
    obtainedAt,
  };
}
