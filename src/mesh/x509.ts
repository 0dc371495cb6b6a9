import 'reflect-metadata';
import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/** What the mesh needs to know about one certificate, read from its DER encoding. */
export interface CertificateFacts {
  /** Upper-case hex without leading zeros or colons (see normalizeSerial). */
  readonly serial: string;
  /** Every URI in every subjectAltName extension, in order. */
  readonly uris: readonly string[];
  readonly isCa: boolean;
  readonly digitalSignature: boolean;
  readonly keyCertSign: boolean;
  readonly crlSign: boolean;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the DER, upper-case hex pairs joined by colons (as node prints it). */
  readonly fingerprint256: string;
}

/** A serial number as ztgate writes and compares it: upper-case hex, no colons, no leading zeros. */
export function normalizeSerial(text: string): string {
  const hex = text.replace(/:/g, '').trim().toUpperCase();
  if (!/^[0-9A-F]{1,80}$/.test(hex)) throw new Error('a serial number is hex digits (colons allowed)');
  const stripped = hex.replace(/^0+/, '');
  return stripped === '' ? '0' : stripped;
}

/** Reads the facts of a DER certificate; throws when it cannot be parsed. */
export function certificateFacts(der: Uint8Array): CertificateFacts {
  const cert = new x509.X509Certificate(der);
  const uris: string[] = [];
  for (const san of cert.getExtensions(x509.SubjectAlternativeNameExtension)) {
    for (const name of san.names.items) if (name.type === 'url') uris.push(name.value);
  }
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  const flags = usage?.usages ?? 0;
  return {
    serial: normalizeSerial(cert.serialNumber),
    uris,
    isCa: basic?.ca === true,
    digitalSignature: (flags & x509.KeyUsageFlags.digitalSignature) !== 0,
    keyCertSign: (flags & x509.KeyUsageFlags.keyCertSign) !== 0,
    crlSign: (flags & x509.KeyUsageFlags.cRLSign) !== 0,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    fingerprint256: new NodeX509(Buffer.from(der)).fingerprint256,
  };
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;

/** The DER certificates of a PEM text, in order (other PEM blocks are ignored). */
export function pemCertificates(text: string): Buffer[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
}

export function derToPem(der: Uint8Array): string {
  const body = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}
