/**
 * Certificate-chain verification for model signatures, following model_signing's certificate
 * verifier:
 *
 * - the bundle's chain is the signing (leaf) certificate followed by untrusted intermediates;
 * - the user gives the trust: PEM certificates; a path must end at one of them that is
 *   self-signed (a root). Other certificates the user gives may serve as intermediates;
 * - every link is checked by signature (names alone prove nothing: in the vectors the leaf's
 *   subject equals its issuer's), every issuer must be a CA allowed to sign certificates;
 * - validity is checked at the signing time, which without a transparency log or timestamp is
 *   taken, as model_signing does, to be the leaf's notBefore — so a signature stays valid after
 *   its certificates expire. Pass `at` to check at another time (for example now);
 * - the leaf must allow digitalSignature (key usage) or codeSigning (extended key usage).
 */
import { X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { certificateFacts, pemCertificates, x509, type CertificateFacts } from '../../mesh/x509.js';
import { ModelSigningError } from './errors.js';

const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const MAX_DEPTH = 8;

interface Cert {
  readonly der: Buffer;
  readonly node: NodeX509;
  readonly facts: CertificateFacts;
  readonly trusted: boolean;
  readonly selfSigned: boolean;
}

export interface VerifiedChain {
  /** The signing certificate's public key. */
  readonly publicKey: KeyObject;
  /** Subjects from leaf to root. */
  readonly subjects: readonly string[];
  /** SHA-256 fingerprint of the leaf. */
  readonly leafFingerprint256: string;
  /** The time the chain was checked at. */
  readonly checkedAt: Date;
}

function invalid(message: string): never {
  throw new ModelSigningError('chain_invalid', `certificate chain: ${message}`);
}

function load(der: Buffer, trusted: boolean, what: string): Cert {
  let node: NodeX509;
  let facts: CertificateFacts;
  try {
    node = new NodeX509(der);
    facts = certificateFacts(der);
  } catch {
    invalid(`${what} is not an X.509 certificate`);
  }
  const selfSigned = node.checkIssued(node) && node.verify(node.publicKey);
  return { der, node, facts, trusted, selfSigned };
}

/** The DER certificates of PEM texts (one or more certificates per text). */
export function certificatesFromPem(texts: readonly (string | Buffer)[]): Buffer[] {
  return texts.flatMap((t) => pemCertificates(typeof t === 'string' ? t : t.toString('utf8')));
}

function validAt(cert: Cert, at: Date): boolean {
  return cert.facts.notBefore.getTime() <= at.getTime() && at.getTime() <= cert.facts.notAfter.getTime();
}

function canSignCertificates(cert: Cert): boolean {
  const der = new x509.X509Certificate(cert.der);
  const usage = der.getExtension(x509.KeyUsagesExtension);
  return cert.facts.isCa && (usage === null || cert.facts.keyCertSign);
}

function leafCanSign(cert: Cert): boolean {
  if (cert.facts.digitalSignature) return true;
  const eku = new x509.X509Certificate(cert.der).getExtension(x509.ExtendedKeyUsageExtension);
  return eku?.usages.some((u) => String(u) === CODE_SIGNING) ?? false;
}

/**
 * Verifies `chain` (DER, leaf first, from the bundle) up to a root among `trustedPem`.
 * Throws chain_invalid; returns the leaf's key and the path.
 */
export function verifyCertificateChain(
  chain: readonly Buffer[],
  trustedPem: readonly (string | Buffer)[],
  at?: Date,
): VerifiedChain {
  if (chain.length === 0) invalid('the signature carries no certificate');
  const trustedDer = certificatesFromPem(trustedPem);
  if (trustedDer.length === 0) invalid('no trusted certificate was given (PEM)');
  const leaf = load(chain[0] as Buffer, false, 'the signing certificate');
  const pool = [
    ...trustedDer.map((der, i) => load(der, true, `trusted certificate ${i + 1}`)),
    ...chain.slice(1).map((der, i) => load(der, false, `chain certificate ${i + 2}`)),
  ];
  const when = at ?? leaf.facts.notBefore;
  if (!validAt(leaf, when)) invalid(`the signing certificate is not valid at ${when.toISOString()}`);
  if (!leafCanSign(leaf)) invalid('the signing certificate allows neither digitalSignature nor codeSigning');

  const extend = (current: Cert, path: Cert[]): Cert[] | undefined => {
    if (current.trusted && current.selfSigned) return path;
    if (path.length > MAX_DEPTH) return undefined;
    for (const issuer of pool) {
      if (path.includes(issuer) || issuer.der.equals(current.der)) continue;
      if (!current.node.checkIssued(issuer.node) || !current.node.verify(issuer.node.publicKey)) continue;
      if (!canSignCertificates(issuer) || !validAt(issuer, when)) continue;
      const found = extend(issuer, [...path, issuer]);
      if (found) return found;
    }
    return undefined;
  };
  const path = extend(leaf, [leaf]);
  if (!path) {
    invalid(
      `no path from "${leaf.node.subject.replace(/\n/g, ', ')}" to a trusted root valid at ${when.toISOString()}` +
        ' (every link must verify, every issuer must be a CA)',
    );
  }
  return {
    publicKey: leaf.node.publicKey,
    subjects: path.map((c) => c.node.subject.replace(/\n/g, ', ')),
    leafFingerprint256: leaf.node.fingerprint256,
    checkedAt: when,
  };
}
