/**
 * The DSSE envelope of a signed policy bundle (docs/POLICY.md, Signing bundles;
 * https://github.com/secure-systems-lab/dsse): its file name and payload type, the statement it
 * carries, the pre-authentication encoding, and the strict parsing of an envelope read from disk.
 */
import { parseKeyRef } from '../keys/key-id.js';
import type { KeyRef } from '../keys/types.js';
import { pae } from '../core/dsse.js';

/** The signature file, at the bundle's root. */
export const BUNDLE_SIGNATURE_FILE = 'bundle.sig.json';
/** DSSE payloadType of a bundle signature. */
export const BUNDLE_PAYLOAD_TYPE = 'application/vnd.ztgate.policy-bundle+json';
/** `_type` of the signed statement. */
export const BUNDLE_STATEMENT_TYPE = 'https://ztgate.dev/policy-bundle/v1';
export interface DsseSignature {
  /** `name@version` of the signing key. */
  readonly keyid: string;
  /** Base64 signature over PAE(payloadType, payload). */
  readonly sig: string;
}

export interface DsseEnvelope {
  readonly payloadType: string;
  /** Base64 of the statement's JSON. */
  readonly payload: string;
  readonly signatures: readonly DsseSignature[];
}

/** What the envelope's payload says. */
export interface BundleStatement {
  readonly _type: typeof BUNDLE_STATEMENT_TYPE;
  /** The bundle digest, `sha256:<hex>`, as loadBundle computes it. */
  readonly digest: string;
  /** ISO 8601. */
  readonly signedAt: string;
}

export { pae } from '../core/dsse.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface ParsedEnvelope {
  readonly statement: BundleStatement;
  readonly data: Buffer;
  readonly signatures: readonly { readonly keyid: string; readonly ref: KeyRef; readonly sig: Buffer }[];
}

/** The envelope is not a DSSE envelope of a bundle statement (reason `signature_malformed`). */
export class Malformed extends Error {}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Checks the envelope's shape and decodes it; throws Malformed. */
export function parseEnvelope(text: string): ParsedEnvelope {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Malformed(`${BUNDLE_SIGNATURE_FILE} is not valid JSON`);
  }
  if (!isRecord(json)) throw new Malformed('the envelope is not a JSON object');
  const { payloadType, payload, signatures } = json;
  if (payloadType !== BUNDLE_PAYLOAD_TYPE) throw new Malformed(`payloadType must be ${BUNDLE_PAYLOAD_TYPE}`);
  if (typeof payload !== 'string' || !BASE64.test(payload)) throw new Malformed('payload must be base64');
  if (!Array.isArray(signatures) || signatures.length === 0)
    throw new Malformed('signatures must be a non-empty array');
  const sigs = signatures.map((s: unknown) => {
    if (!isRecord(s) || typeof s.keyid !== 'string' || typeof s.sig !== 'string' || !BASE64.test(s.sig))
      throw new Malformed('each signature needs a keyid and a base64 sig');
    let ref: KeyRef;
    try {
      ref = parseKeyRef(s.keyid);
    } catch {
      throw new Malformed(`keyid "${s.keyid}" is not name@version`);
    }
    return { keyid: s.keyid, ref, sig: Buffer.from(s.sig, 'base64') };
  });
  const body = Buffer.from(payload, 'base64');
  let statement: unknown;
  try {
    statement = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Malformed('the payload is not JSON');
  }
  if (
    !isRecord(statement) ||
    statement._type !== BUNDLE_STATEMENT_TYPE ||
    typeof statement.digest !== 'string' ||
    !DIGEST.test(statement.digest) ||
    typeof statement.signedAt !== 'string' ||
    Number.isNaN(Date.parse(statement.signedAt))
  )
    throw new Malformed(`the payload is not a ${BUNDLE_STATEMENT_TYPE} statement`);
  return {
    statement: statement as unknown as BundleStatement,
    data: pae(BUNDLE_PAYLOAD_TYPE, body),
    signatures: sigs,
  };
}
