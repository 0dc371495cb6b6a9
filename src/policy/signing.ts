/**
 * Signed policy bundles (docs/POLICY.md, Signing bundles): a DSSE envelope
 * (https://github.com/secure-systems-lab/dsse) in `<bundle>/bundle.sig.json` whose payload names
 * the bundle digest, signed with a KeyProvider signing key (default `policy-signing`).
 *
 * `bundle.sig.json` is not part of the bundle digest: the digest covers only policies, the schema,
 * `entities.json` and `tests/*.json` (see compileBundle), so signing does not change what it signs.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isKeyError } from '../keys/errors.js';
import { formatKeyRef, parseKeyRef } from '../keys/key-id.js';
import { verifyWithPublicKey } from '../keys/public-key.js';
import type { KeyAlgorithm, KeyInfo, KeyRef, KeySignature, PublicKeyExport } from '../keys/types.js';
import { loadBundle } from './bundle.js';

/** The signature file, at the bundle's root. */
export const BUNDLE_SIGNATURE_FILE = 'bundle.sig.json';
/** DSSE payloadType of a bundle signature. */
export const BUNDLE_PAYLOAD_TYPE = 'application/vnd.ztgate.policy-bundle+json';
/** `_type` of the signed statement. */
export const BUNDLE_STATEMENT_TYPE = 'https://ztgate.dev/policy-bundle/v1';
export const DEFAULT_SIGNING_KEY = 'policy-signing';

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

export const SIGNATURE_REASONS = [
  'signature_missing',
  'signature_malformed',
  'signature_invalid',
  'digest_mismatch',
  'key_unknown',
] as const;
export type SignatureReason = (typeof SIGNATURE_REASONS)[number];

export interface SignatureVerification {
  /** Whether the bundle has a signature file at all. */
  readonly signed: boolean;
  readonly valid: boolean;
  /** `name@version` of the key whose signature verified (or, on failure, the first one tried). */
  readonly keyId?: string;
  /** The digest the signature names (when the envelope parses). */
  readonly digest?: string;
  readonly signedAt?: string;
  /** Why not valid, a stable code. */
  readonly reason?: SignatureReason;
  /** For operators. */
  readonly detail?: string;
}

/** A KeyManager, or anything that signs the same way. */
export interface BundleSigner {
  sign(keyName: string, data: Uint8Array): Promise<KeySignature>;
  /** When present, a missing key is created (KeyManager.ensureKey: audited as a key creation). */
  ensureKey?(name: string, algorithm: KeyAlgorithm, actor: string): Promise<KeyInfo>;
}

/** A KeyManager (or provider): verifies with the key the envelope names. */
export interface SignatureVerifier {
  verify(ref: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** A trusted public key: SPKI PEM, a JWK, or a `keys export-public` result. */
export type TrustedPublicKey = string | JsonWebKey | PublicKeyExport;
/** Trusted public keys by key id (`name@version`), for verification without the key provider. */
export type TrustedKeys = Readonly<Record<string, TrustedPublicKey>> | ReadonlyMap<string, TrustedPublicKey>;

/** The bundle whose signature to check: its directory, and optionally its already computed digest. */
export type BundleTarget = string | { readonly dir: string; readonly digest?: string };

export interface SignOptions {
  /** Recorded when a missing key is created. Default `system:policy-signing`. */
  readonly actor?: string;
  /** Algorithm of a key created because it was missing. Default ed25519. */
  readonly algorithm?: Extract<KeyAlgorithm, 'ed25519' | 'ecdsa-p256'>;
  readonly now?: () => Date;
}

export interface VerifyOptions {
  /**
   * With a SignatureVerifier (key provider), the key names whose signatures count; a signature by
   * any other key of the provider is `key_unknown`. Default `[policy-signing]`. Not used with
   * TrustedKeys, where the given keys are the trust list.
   */
  readonly keyNames?: readonly string[];
}

/** DSSE pre-authentication encoding. Lengths are byte lengths, in decimal. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload,
  ]);
}

/**
 * Signs the bundle in `dir`: its digest computed as loadBundle does (the bundle must load), in a
 * DSSE envelope written to `dir/bundle.sig.json` (replacing any earlier signature). Returns the
 * envelope.
 */
export async function signBundle(
  dir: string,
  keys: BundleSigner,
  keyName: string = DEFAULT_SIGNING_KEY,
  options: SignOptions = {},
): Promise<DsseEnvelope> {
  const { digest } = await loadBundle(dir);
  const statement: BundleStatement = {
    _type: BUNDLE_STATEMENT_TYPE,
    digest,
    signedAt: (options.now?.() ?? new Date()).toISOString(),
  };
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  const data = pae(BUNDLE_PAYLOAD_TYPE, payload);
  let signed: KeySignature;
  try {
    signed = await keys.sign(keyName, data);
  } catch (err) {
    if (!keys.ensureKey || !isKeyError(err, 'key_not_found')) throw err;
    await keys.ensureKey(keyName, options.algorithm ?? 'ed25519', options.actor ?? 'system:policy-signing');
    signed = await keys.sign(keyName, data);
  }
  const envelope: DsseEnvelope = {
    payloadType: BUNDLE_PAYLOAD_TYPE,
    payload: payload.toString('base64'),
    signatures: [{ keyid: formatKeyRef(signed.keyId), sig: signed.signature.toString('base64') }],
  };
  await writeFile(join(dir, BUNDLE_SIGNATURE_FILE), JSON.stringify(envelope, null, 2) + '\n');
  return envelope;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

interface ParsedEnvelope {
  readonly statement: BundleStatement;
  readonly data: Buffer;
  readonly signatures: readonly { readonly keyid: string; readonly ref: KeyRef; readonly sig: Buffer }[];
}

class Malformed extends Error {}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Checks the envelope's shape and decodes it; throws Malformed. */
function parseEnvelope(text: string): ParsedEnvelope {
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

function isVerifier(x: SignatureVerifier | TrustedKeys): x is SignatureVerifier {
  return typeof (x as { verify?: unknown }).verify === 'function';
}

type SigningAlgorithm = Exclude<KeyAlgorithm, 'aes-256-gcm'>;

function toKeyObject(key: TrustedPublicKey): KeyObject {
  if (typeof key === 'string') return createPublicKey(key);
  if ('spkiPem' in key && typeof key.spkiPem === 'string') return createPublicKey(key.spkiPem);
  return createPublicKey({ key: key as JsonWebKey, format: 'jwk' });
}

function algorithmOf(key: KeyObject): SigningAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ecdsa-p256';
    if (curve === 'secp384r1') return 'ecdsa-p384';
  }
  return undefined;
}

function lookup(keys: TrustedKeys, keyid: string): TrustedPublicKey | undefined {
  if (keys instanceof Map) return (keys as ReadonlyMap<string, TrustedPublicKey>).get(keyid);
  const record = keys as Readonly<Record<string, TrustedPublicKey>>;
  return Object.prototype.hasOwnProperty.call(record, keyid) ? record[keyid] : undefined;
}

/** KeyErrors that mean "this key cannot vouch for anything": reported as key_unknown. */
const UNUSABLE_KEY = [
  'key_not_found',
  'key_version_not_found',
  'key_wrong_type',
  'key_disabled',
  'key_destroyed',
] as const;

/** 'valid', 'invalid', or 'unknown' (with why); other provider failures throw. */
async function checkOne(
  ref: KeyRef,
  keyid: string,
  data: Buffer,
  sig: Buffer,
  trust: SignatureVerifier | TrustedKeys,
  options: VerifyOptions,
): Promise<{ outcome: 'valid' | 'invalid' } | { outcome: 'unknown'; why: string }> {
  if (isVerifier(trust)) {
    const names = options.keyNames ?? [DEFAULT_SIGNING_KEY];
    if (!names.includes(ref.name))
      return { outcome: 'unknown', why: `${keyid} is not a policy signing key (${names.join(', ')})` };
    try {
      return { outcome: (await trust.verify(ref, data, sig)) ? 'valid' : 'invalid' };
    } catch (err) {
      const code = UNUSABLE_KEY.find((c) => isKeyError(err, c));
      if (code) return { outcome: 'unknown', why: `${keyid}: ${code}` };
      throw err;
    }
  }
  const trusted = lookup(trust, keyid);
  if (trusted === undefined) return { outcome: 'unknown', why: `${keyid} is not a trusted key` };
  const key = toKeyObject(trusted);
  const algorithm = algorithmOf(key);
  if (!algorithm) return { outcome: 'unknown', why: `${keyid} is not an ed25519 or ECDSA key` };
  return { outcome: verifyWithPublicKey(algorithm, key, data, sig) ? 'valid' : 'invalid' };
}

/**
 * Checks `bundle.sig.json` of a bundle: the envelope's shape, a signature by a known key, and that
 * the signed digest is the bundle's digest now (given, or computed with loadBundle, which throws
 * PolicyBundleError for a bundle that does not load). Errors of the key provider other than an
 * unknown or unusable key are thrown (fail closed).
 */
export async function verifyBundleSignature(
  target: BundleTarget,
  trust: SignatureVerifier | TrustedKeys,
  options: VerifyOptions = {},
): Promise<SignatureVerification> {
  const dir = typeof target === 'string' ? target : target.dir;
  let text: string;
  try {
    text = await readFile(join(dir, BUNDLE_SIGNATURE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return {
        signed: false,
        valid: false,
        reason: 'signature_missing',
        detail: `${dir} has no ${BUNDLE_SIGNATURE_FILE}`,
      };
    throw err;
  }
  let parsed: ParsedEnvelope;
  try {
    parsed = parseEnvelope(text);
  } catch (err) {
    if (err instanceof Malformed)
      return { signed: true, valid: false, reason: 'signature_malformed', detail: err.message };
    throw err;
  }
  const { statement } = parsed;
  const facts = { digest: statement.digest, signedAt: statement.signedAt };
  let validKey: string | undefined;
  let invalidKey: string | undefined;
  const unknown: string[] = [];
  for (const s of parsed.signatures) {
    const r = await checkOne(s.ref, s.keyid, parsed.data, s.sig, trust, options);
    if (r.outcome === 'valid') {
      validKey = s.keyid;
      break;
    }
    if (r.outcome === 'unknown') unknown.push(r.why);
    else invalidKey ??= s.keyid;
  }
  if (validKey === undefined) {
    if (invalidKey !== undefined)
      return {
        signed: true,
        valid: false,
        keyId: invalidKey,
        ...facts,
        reason: 'signature_invalid',
        detail: `the signature by ${invalidKey} does not verify`,
      };
    return {
      signed: true,
      valid: false,
      keyId: parsed.signatures[0]?.keyid ?? '',
      ...facts,
      reason: 'key_unknown',
      detail: unknown.join('; '),
    };
  }
  const current =
    typeof target !== 'string' && target.digest !== undefined
      ? target.digest
      : (await loadBundle(dir)).digest;
  if (current !== statement.digest)
    return {
      signed: true,
      valid: false,
      keyId: validKey,
      ...facts,
      reason: 'digest_mismatch',
      detail: `signed ${statement.digest}, but the bundle is ${current}`,
    };
  return { signed: true, valid: true, keyId: validKey, ...facts };
}

export type SignatureErrorCode = `policy.${SignatureReason}`;

/** A bundle refused for its signature (`policy.requireSigned`). Like PolicyBundleError: `code: message`. */
export class PolicySignatureError extends Error {
  /** `policy.signature_missing`, `policy.signature_malformed`, `policy.signature_invalid`, `policy.digest_mismatch` or `policy.key_unknown`. */
  readonly code: SignatureErrorCode;
  /** The bare reason (`signature_missing`, …). */
  readonly reason: SignatureReason;
  readonly details: readonly string[];

  constructor(reason: SignatureReason, message: string) {
    const code: SignatureErrorCode = `policy.${reason}`;
    super(`${code}: ${message}`);
    this.name = 'PolicySignatureError';
    this.code = code;
    this.reason = reason;
    this.details = [message];
  }
}

/** verifyBundleSignature that throws PolicySignatureError unless the signature is valid. */
export async function requireSignedBundle(
  target: BundleTarget,
  trust: SignatureVerifier | TrustedKeys,
  options: VerifyOptions = {},
): Promise<SignatureVerification & { readonly valid: true; readonly keyId: string }> {
  const result = await verifyBundleSignature(target, trust, options);
  if (!result.valid || result.keyId === undefined) {
    const reason = result.reason ?? 'signature_invalid';
    const dir = typeof target === 'string' ? target : target.dir;
    throw new PolicySignatureError(reason, `bundle ${dir}: ${result.detail ?? reason}`);
  }
  return result as SignatureVerification & { valid: true; keyId: string };
}
