import { randomBytes, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { MeshError } from './errors.js';
import { x509 } from './x509.js';

/**
 * Signs bytes with an issuer's ECDSA P-256 key and returns the IEEE P1363 signature (`r‖s`) over
 * SHA-256: what KeyManager.sign returns for an `ecdsa-p256` key, and WebCrypto's ECDSA format.
 */
export type TbsSigner = (tbs: Uint8Array) => Promise<Uint8Array>;

/** Everything a certificate holds except its signature. */
export interface CertificateTemplate {
  readonly subject: string | x509.Name;
  readonly issuer: string | x509.Name;
  /** Hex. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array;
  readonly extensions: readonly x509.Extension[];
}

const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256', namedCurve: 'P-256' };

/** A fresh positive 128-bit serial number (hex), first byte 0x01-0x7f so it has no leading zero. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex').toUpperCase();
}

/** Reads a DER length at `offset` (just after a tag); returns [length, header bytes]. */
function derLength(der: Uint8Array, offset: number): [number, number] {
  const first = der[offset];
  if (first === undefined) throw new Error('truncated DER');
  if (first < 0x80) return [first, 1];
  const count = first & 0x7f;
  if (count === 0 || count > 4) throw new Error('unsupported DER length');
  let length = 0;
  for (let i = 1; i <= count; i++) {
    const byte = der[offset + i];
    if (byte === undefined) throw new Error('truncated DER');
    length = length * 256 + byte;
  }
  return [length, 1 + count];
}

/** The DER TBSCertificate of a certificate: the first element of its outer SEQUENCE. */
export function tbsOf(certificate: Uint8Array): Uint8Array {
  if (certificate[0] !== 0x30) throw new Error('not a DER certificate');
  const [, outerHeader] = derLength(certificate, 1);
  const start = 1 + outerHeader;
  if (certificate[start] !== 0x30) throw new Error('not a DER certificate');
  const [length, header] = derLength(certificate, start + 1);
  return certificate.subarray(start, start + 1 + header + length);
}

function build(template: CertificateTemplate, signature: Uint8Array): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    subject: template.subject,
    issuer: template.issuer,
    serialNumber: template.serial,
    notBefore: template.notBefore,
    notAfter: template.notAfter,
    publicKey: template.publicKey,
    extensions: [...template.extensions],
    signingAlgorithm: ECDSA_SHA256,
    signature,
  });
}

/**
 * Signs a certificate with a key the caller cannot see (in the key provider): the certificate is
 * built once with a placeholder signature to obtain its exact TBSCertificate bytes, the issuer
 * signs those bytes, and the certificate is built again with the real signature. The inputs are
 * fixed (serial, dates, extensions), so both builds have the same TBS; the result is verified
 * against the issuer's public key before it is returned, so a mismatch can never go out.
 */
export async function signCertificate(
  template: CertificateTemplate,
  sign: TbsSigner,
  issuerPublicKey: KeyObject,
): Promise<Buffer> {
  const draft = await build(template, new Uint8Array(64));
  const tbs = tbsOf(new Uint8Array(draft.rawData));
  const signature = await sign(tbs);
  if (signature.length !== 64) {
    throw new MeshError(
      'ca_invalid',
      `the CA key returned a ${signature.length}-byte signature, not P-256 r‖s`,
    );
  }
  const der = Buffer.from((await build(template, signature)).rawData);
  if (!Buffer.from(tbsOf(der)).equals(Buffer.from(tbs)) || !new NodeX509(der).verify(issuerPublicKey)) {
    throw new MeshError(
      'ca_invalid',
      'a certificate signed by the CA key does not verify with the CA certificate: the key and the certificate do not match',
    );
  }
  return der;
}
