/**
 * Signed policy bundles (docs/POLICY.md, Signing bundles): a DSSE envelope
 * (https://github.com/secure-systems-lab/dsse) in `<bundle>/bundle.sig.json` whose payload names
 * the bundle digest, signed with a KeyProvider signing key (default `policy-signing`).
 *
 * `bundle.sig.json` is not part of the bundle digest: the digest covers only policies, the schema,
 * `entities.json`, `runtimes.json` and `tests/*.json` (see compileBundle), so signing does not change what it signs.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isKeyError } from '../keys/errors.js';
import { formatKeyRef } from '../keys/key-id.js';
import type { KeyAlgorithm, KeyInfo, KeySignature } from '../keys/types.js';
import { loadBundle } from './bundle.js';
import {
  BUNDLE_PAYLOAD_TYPE,
  BUNDLE_SIGNATURE_FILE,
  BUNDLE_STATEMENT_TYPE,
  Malformed,
  pae,
  parseEnvelope,
  type BundleStatement,
  type DsseEnvelope,
  type ParsedEnvelope,
} from './dsse.js';
import {
  checkOne,
  DEFAULT_SIGNING_KEY,
  type SignatureVerifier,
  type TrustedKeys,
  type VerifyOptions,
} from './signing-keys.js';

export {
  BUNDLE_PAYLOAD_TYPE,
  BUNDLE_SIGNATURE_FILE,
  BUNDLE_STATEMENT_TYPE,
  pae,
  type BundleStatement,
  type DsseEnvelope,
  type DsseSignature,
} from './dsse.js';
export {
  DEFAULT_SIGNING_KEY,
  type SignatureVerifier,
  type TrustedKeys,
  type TrustedPublicKey,
  type VerifyOptions,
} from './signing-keys.js';

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

/** The bundle whose signature to check: its directory, and optionally its already computed digest. */
export type BundleTarget = string | { readonly dir: string; readonly digest?: string };

export interface SignOptions {
  /** Recorded when a missing key is created. Default `system:policy-signing`. */
  readonly actor?: string;
  /** Algorithm of a key created because it was missing. Default ed25519. */
  readonly algorithm?: Extract<KeyAlgorithm, 'ed25519' | 'ecdsa-p256'>;
  readonly now?: () => Date;
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
