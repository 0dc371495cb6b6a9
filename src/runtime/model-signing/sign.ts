/**
 * Signing a model in the OpenSSF model-signing format: hash the model (the signature file, git
 * files and the caller's ignore paths left out and recorded as `ignore_paths`), build the in-toto
 * statement, sign its DSSE PAE, and write the Sigstore bundle v0.3.
 */
import { X509Certificate } from 'node:crypto';
import { rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { buildBundle, type SigstoreBundleJson } from './bundle.js';
import { pae, publicKeyHint, type DsseSigner, type SigningKeys } from './dsse.js';
import { ModelSigningError } from './errors.js';
import { hashModel, type HashOptions, type Manifest } from './manifest.js';
import { relativeInside } from './paths.js';
import { buildStatement, encodeStatement, IN_TOTO_PAYLOAD_TYPE } from './statement.js';
import type { KeyManager } from '../../keys/key-manager.js';

export interface SignOptions extends HashOptions {
  readonly signer: DsseSigner;
  /** Where to write the signature; default `DIR/model.sig` (`FILE.sig` for a single-file model). */
  readonly output?: string;
  /**
   * DER certificates, signing certificate first, then intermediates (and the root if wanted):
   * recorded as `x509CertificateChain` instead of the key hint. The leaf must hold the signer's key.
   */
  readonly certificates?: readonly Buffer[];
}

export interface SignedModel {
  readonly output: string;
  readonly bundle: SigstoreBundleJson;
  readonly manifest: Manifest;
}

export async function defaultSignaturePath(modelPath: string): Promise<string> {
  const info = await stat(modelPath).catch(() => undefined);
  return info?.isFile() ? `${resolve(modelPath)}.sig` : join(resolve(modelPath), 'model.sig');
}

/** Signs a model (a directory or a single file) and writes the bundle. */
export async function signModel(modelPath: string, options: SignOptions): Promise<SignedModel> {
  const output = resolve(options.output ?? (await defaultSignaturePath(modelPath)));
  if (options.certificates && options.certificates.length > 0) {
    let leafKey;
    try {
      leafKey = new X509Certificate(options.certificates[0] as Buffer).publicKey;
    } catch {
      throw new ModelSigningError('chain_invalid', 'the signing certificate cannot be read');
    }
    if (!leafKey.equals(options.signer.publicKey)) {
      throw new ModelSigningError(
        'key_mismatch',
        `the signing certificate does not hold the key of ${options.signer.description}`,
      );
    }
  }
  const signatureInModel = relativeInside(modelPath, output);
  const manifest = await hashModel(modelPath, {
    ...options,
    ignorePaths: [
      ...(options.ignorePaths ?? []),
      ...(signatureInModel !== undefined ? [signatureInModel] : []),
    ],
  });
  const payload = encodeStatement(buildStatement(manifest));
  const signature = await options.signer.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload));
  const bundle = buildBundle({
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    payload,
    signature,
    publicKeyHint: publicKeyHint(options.signer.publicKey),
    ...(options.certificates ? { certificates: options.certificates } : {}),
  });
  const temp = join(dirname(output), `.${process.pid}.${Date.now()}.model-sig.tmp`);
  await writeFile(temp, JSON.stringify(bundle, null, 2) + '\n', { mode: 0o644 });
  await rename(temp, output);
  return { output, bundle, manifest };
}

/** A KeyManager as signing keys; the public-key export is audited under `actor`. */
export function keyManagerSigningKeys(keys: KeyManager, actor: string): SigningKeys {
  return {
    describeKey: (name) => keys.describeKey(name),
    sign: (name, data) => keys.sign(name, data),
    publicKey: (ref) => keys.exportPublicKey(ref, actor),
  };
}
