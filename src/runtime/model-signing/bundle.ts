/**
 * The Sigstore bundle v0.3 (JSON) model_signing writes for traditional keys and certificates:
 *
 * ```json
 * { "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
 *   "verificationMaterial": { "publicKey": { "hint": "<sha256 of the SPKI PEM>" }, "tlogEntries": [] }
 *                      or { "x509CertificateChain": { "certificates": [ { "rawBytes": "<DER>" }, … ] } },
 *   "dsseEnvelope": { "payload": "<base64>", "payloadType": "application/vnd.in-toto+json",
 *                     "signatures": [ { "sig": "<base64 DER>", "keyid": "" } ] } }
 * ```
 *
 * Bundles of model_signing 1.0.x carry `publicKey.rawBytes` (the PEM, base64) and `keyDetails`
 * instead of the hint; both are read. No transparency-log entry is made or required (offline).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { ModelSigningError } from './errors.js';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export interface SigstoreBundleJson {
  readonly mediaType: string;
  readonly verificationMaterial: {
    readonly publicKey?: { readonly hint?: string; readonly rawBytes?: string; readonly keyDetails?: string };
    readonly x509CertificateChain?: { readonly certificates: readonly { readonly rawBytes: string }[] };
    readonly certificate?: { readonly rawBytes: string };
    readonly tlogEntries?: readonly unknown[];
  };
  readonly dsseEnvelope: {
    readonly payload: string;
    readonly payloadType: string;
    readonly signatures: readonly { readonly sig: string; readonly keyid?: string | null }[];
  };
}

export type VerificationMaterial =
  | {
      readonly kind: 'publicKey';
      /** SHA-256 hex of the signer's SPKI PEM (model_signing ≥ 1.1). */
      readonly hint: string | undefined;
      /** The key embedded by model_signing 1.0.x (unauthenticated: only compared with the key given). */
      readonly embeddedKey: KeyObject | undefined;
    }
  | {
      readonly kind: 'x509';
      /** DER, leaf first. */
      readonly certificates: readonly Buffer[];
    };

export interface ParsedBundle {
  readonly payloadType: string;
  readonly payload: Buffer;
  /** The first signature of the envelope (model_signing verifies `signatures[0]`). */
  readonly signature: Buffer;
  readonly material: VerificationMaterial;
}

export interface BundleInput {
  readonly payloadType: string;
  readonly payload: Buffer;
  readonly signature: Buffer;
  /** With a public key: its hint is recorded. */
  readonly publicKeyHint?: string;
  /** With certificates (DER, leaf first): the chain is recorded instead of a hint. */
  readonly certificates?: readonly Buffer[];
}

export function buildBundle(input: BundleInput): SigstoreBundleJson {
  const verificationMaterial =
    input.certificates && input.certificates.length > 0
      ? {
          x509CertificateChain: {
            certificates: input.certificates.map((der) => ({ rawBytes: der.toString('base64') })),
          },
          tlogEntries: [],
        }
      : { publicKey: { hint: input.publicKeyHint ?? '' }, tlogEntries: [] };
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial,
    dsseEnvelope: {
      payload: input.payload.toString('base64'),
      payloadType: input.payloadType,
      signatures: [{ sig: input.signature.toString('base64'), keyid: '' }],
    },
  };
}

function malformed(message: string): never {
  throw new ModelSigningError('payload_malformed', `the signature file is not a model signature: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 (protobuf JSON writes it padded); anything else is malformed. */
function base64(value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || !BASE64.test(value)) malformed(`${what} is not base64`);
  return Buffer.from(value, 'base64');
}

function embeddedKey(rawBytes: unknown): KeyObject | undefined {
  if (rawBytes === undefined || rawBytes === null || rawBytes === '') return undefined;
  const bytes = base64(rawBytes, 'publicKey.rawBytes');
  try {
    const text = bytes.toString('utf8');
    return text.includes('-----BEGIN')
      ? createPublicKey(text)
      : createPublicKey({ key: bytes, format: 'der', type: 'spki' });
  } catch {
    malformed('publicKey.rawBytes is not a public key');
  }
}

/** Parses a bundle (JSON text); checks its shape, not its signature. */
export function parseBundle(text: string | Buffer): ParsedBundle {
  let json: unknown;
  try {
    json = JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch {
    malformed('not JSON');
  }
  if (!isRecord(json)) malformed('not a JSON object');
  if (json.mediaType !== BUNDLE_MEDIA_TYPE) {
    malformed(`mediaType ${JSON.stringify(json.mediaType)} is not ${BUNDLE_MEDIA_TYPE}`);
  }
  const envelope = json.dsseEnvelope;
  if (!isRecord(envelope)) malformed('no dsseEnvelope (message signatures are not model signatures)');
  if (typeof envelope.payloadType !== 'string') malformed('dsseEnvelope.payloadType is missing');
  const payload = base64(envelope.payload, 'dsseEnvelope.payload');
  const signatures = envelope.signatures;
  if (!Array.isArray(signatures) || signatures.length === 0) malformed('the envelope has no signature');
  const first: unknown = signatures[0];
  if (!isRecord(first)) malformed('the envelope signature is not an object');
  const signature = base64(first.sig, 'the envelope signature');
  if (signature.length === 0) malformed('the envelope signature is empty');

  const material = json.verificationMaterial;
  if (!isRecord(material)) malformed('no verificationMaterial');
  let parsed: VerificationMaterial;
  if (isRecord(material.x509CertificateChain)) {
    const certs = material.x509CertificateChain.certificates;
    if (!Array.isArray(certs) || certs.length === 0) malformed('x509CertificateChain has no certificate');
    parsed = {
      kind: 'x509',
      certificates: certs.map((c: unknown, i) =>
        base64(isRecord(c) ? c.rawBytes : undefined, `certificate ${i} of the chain`),
      ),
    };
  } else if (isRecord(material.certificate)) {
    parsed = { kind: 'x509', certificates: [base64(material.certificate.rawBytes, 'certificate')] };
  } else if (isRecord(material.publicKey)) {
    const hint = material.publicKey.hint;
    if (hint !== undefined && hint !== null && typeof hint !== 'string')
      malformed('publicKey.hint is not a string');
    parsed = {
      kind: 'publicKey',
      hint: typeof hint === 'string' && hint !== '' ? hint.toLowerCase() : undefined,
      embeddedKey: embeddedKey(material.publicKey.rawBytes),
    };
  } else {
    malformed('verificationMaterial has neither publicKey nor a certificate chain');
  }
  return { payloadType: envelope.payloadType, payload, signature, material: parsed };
}
