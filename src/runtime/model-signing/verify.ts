/**
 * Verifying a model against its model_signing signature, in model_signing's order:
 *
 * 1. the bundle parses (payload_malformed);
 * 2. the key: with a public key, the bundle's hint (or the key embedded by 1.0.x, or the leaf of
 *    a certificate chain) must be that key (key_mismatch); with a certificate chain, the chain
 *    must lead to a root the user gave (chain_invalid);
 * 3. the DSSE signature verifies over the PAE of the payload (signature_invalid);
 * 4. the payload is an in-toto statement of predicate model_signing v1.0 whose subject digest
 *    matches its resources (payload_malformed);
 * 5. the model is hashed as the statement's serialization says, leaving out its ignore_paths,
 *    the caller's, git files (unless told not to) and the signature file itself when it lies in
 *    the model; the manifests must be equal: digest_mismatch, file_missing, file_unexpected
 *    name the files.
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseBundle, type ParsedBundle } from './bundle.js';
import { verifyCertificateChain } from './certificates.js';
import { publicKeyHint, verifyDsse } from './dsse.js';
import { isModelSigningError, ModelSigningError } from './errors.js';
import {
  compareItems,
  GIT_PATHS,
  hashWithSerialization,
  normalizeIgnorePaths,
  type Manifest,
  type ManifestItem,
} from './manifest.js';
import { IN_TOTO_PAYLOAD_TYPE, parseStatement, type SignedManifest } from './statement.js';
import { relativeInside } from './paths.js';

export type ModelTrust =
  | { readonly publicKey: KeyObject | string | Buffer }
  | {
      /** PEM texts holding the root (and, optionally, intermediates). */
      readonly certificateChain: readonly (string | Buffer)[];
      /** Check validity at this time instead of the signing certificate's notBefore. */
      readonly at?: Date;
    };

export interface VerifyOptions {
  readonly trust: ModelTrust;
  /** More model-relative paths to leave out (on top of the statement's ignore_paths). */
  readonly ignorePaths?: readonly string[];
  /** Leave out `.git`, `.gitattributes`, `.github`, `.gitignore` (default true, as model_signing). */
  readonly ignoreGitPaths?: boolean;
}

export type VerifiedSigner =
  | { readonly kind: 'public-key'; readonly hint: string }
  | {
      readonly kind: 'certificate';
      readonly subjects: readonly string[];
      readonly leafFingerprint256: string;
      readonly checkedAt: string;
    };

export interface ModelVerification {
  readonly verified: true;
  readonly modelName: string;
  /** The subject digest (SHA-256 over the resources' digests). */
  readonly rootDigest: string;
  readonly signer: VerifiedSigner;
  readonly manifest: SignedManifest;
  /** The paths left out when hashing (sorted). */
  readonly ignoredPaths: readonly string[];
}

function toPublicKey(key: KeyObject | string | Buffer): KeyObject {
  if (typeof key === 'object' && 'asymmetricKeyType' in key) return key;
  try {
    return createPublicKey(key);
  } catch {
    throw new ModelSigningError('key_mismatch', 'the public key given is not a PEM or DER public key');
  }
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.equals(b);
}

/** Steps 2–4: the signer and the signed manifest of a parsed bundle. */
export function verifyBundle(
  bundle: ParsedBundle,
  trust: ModelTrust,
): { signer: VerifiedSigner; manifest: SignedManifest } {
  let key: KeyObject;
  let signer: VerifiedSigner;
  const material = bundle.material;
  if ('publicKey' in trust) {
    key = toPublicKey(trust.publicKey);
    const hint = publicKeyHint(key);
    if (material.kind === 'publicKey') {
      if (material.hint !== undefined && material.hint !== hint) {
        throw new ModelSigningError('key_mismatch', 'the signature names another public key (hint mismatch)');
      }
      if (material.embeddedKey && !sameKey(material.embeddedKey, key)) {
        throw new ModelSigningError('key_mismatch', 'the signature carries another public key');
      }
    } else {
      const leaf = verifyLeafOnly(material.certificates[0] as Buffer);
      if (!sameKey(leaf, key)) {
        throw new ModelSigningError(
          'key_mismatch',
          "the signing certificate's key is not the public key given",
        );
      }
    }
    signer = { kind: 'public-key', hint };
  } else {
    if (material.kind !== 'x509') {
      throw new ModelSigningError(
        'chain_invalid',
        'the signature carries no certificate chain (it was signed with a bare key)',
      );
    }
    const chain = verifyCertificateChain(material.certificates, trust.certificateChain, trust.at);
    key = chain.publicKey;
    signer = {
      kind: 'certificate',
      subjects: chain.subjects,
      leafFingerprint256: chain.leafFingerprint256,
      checkedAt: chain.checkedAt.toISOString(),
    };
  }
  if (!verifyDsse(key, bundle.payloadType, bundle.payload, bundle.signature)) {
    throw new ModelSigningError('signature_invalid', 'the DSSE signature does not verify with the key');
  }
  if (bundle.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new ModelSigningError(
      'payload_malformed',
      `payloadType ${bundle.payloadType} is not ${IN_TOTO_PAYLOAD_TYPE}`,
    );
  }
  return { signer, manifest: parseStatement(bundle.payload) };
}

function verifyLeafOnly(der: Buffer): KeyObject {
  try {
    return new X509Certificate(der).publicKey;
  } catch {
    throw new ModelSigningError('payload_malformed', 'the signing certificate cannot be read');
  }
}

/** Step 5: compares the signed manifest with the model on disk; throws with the files at fault. */
export function compareManifests(signed: Manifest, actual: Manifest): void {
  const expected = new Map(signed.items.map((i) => [i.name, i]));
  const found = new Map(actual.items.map((i) => [i.name, i]));
  const mismatched: ManifestItem[] = [];
  const missing: ManifestItem[] = [];
  const unexpected: ManifestItem[] = [];
  for (const [name, item] of expected) {
    const local = found.get(name);
    if (!local) missing.push(item);
    else if (local.digest !== item.digest || local.algorithm !== item.algorithm) mismatched.push(item);
  }
  for (const [name, item] of found) if (!expected.has(name)) unexpected.push(item);
  const names = (items: ManifestItem[]) => items.sort(compareItems).map((i) => i.name);
  if (mismatched.length > 0) {
    const files = names(mismatched);
    throw new ModelSigningError('digest_mismatch', `digest mismatch: ${files.join(', ')}`, files);
  }
  if (missing.length > 0) {
    const files = names(missing);
    throw new ModelSigningError('file_missing', `signed but missing: ${files.join(', ')}`, files);
  }
  if (unexpected.length > 0) {
    const files = names(unexpected);
    throw new ModelSigningError(
      'file_unexpected',
      `not in the signature and not ignored: ${files.join(', ')}`,
      files,
    );
  }
}

/** Verifies a model (a directory or a single file) against a signature file. */
export async function verifyModel(
  modelPath: string,
  signaturePath: string,
  options: VerifyOptions,
): Promise<ModelVerification> {
  let text: Buffer;
  try {
    text = await readFile(signaturePath);
  } catch (err) {
    throw new ModelSigningError(
      'payload_malformed',
      `cannot read the signature ${signaturePath}: ${(err as Error).message}`,
    );
  }
  const { signer, manifest } = verifyBundle(parseBundle(text), options.trust);
  const signatureInModel = relativeInside(modelPath, signaturePath);
  const ignoredPaths = normalizeIgnorePaths([
    ...manifest.serialization.ignorePaths,
    ...(options.ignorePaths ?? []),
    ...(options.ignoreGitPaths === false ? [] : GIT_PATHS),
    ...(signatureInModel !== undefined ? [signatureInModel] : []),
  ]);
  let actual: Manifest;
  try {
    actual = await hashWithSerialization(modelPath, { ...manifest.serialization, ignorePaths: ignoredPaths });
  } catch (err) {
    // Nothing left on disk: every signed file is missing.
    if (!isModelSigningError(err, 'model_empty')) throw err;
    actual = { modelName: manifest.modelName, serialization: manifest.serialization, items: [] };
  }
  compareManifests(manifest, actual);
  return {
    verified: true,
    modelName: manifest.modelName,
    rootDigest: manifest.rootDigest,
    signer,
    manifest,
    ignoredPaths,
  };
}
