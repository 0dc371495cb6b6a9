/**
 * What the agent measures, and how each measurement is defined (all lower-case hex SHA-256):
 *
 * - `weights`: SHA-256 of the DSSE payload of the model's signature (the exact bytes of the
 *   signed in-toto statement), taken only after `verifyModel` accepted the signature with the
 *   configured key or certificate chain and every file of the directory matched it. The payload
 *   commits to every file name and digest *and* to how the model was hashed (method, shard size,
 *   ignore_paths), which the statement's subject digest alone does not; anyone holding the
 *   signature file recomputes it as `sha256(base64decode(dsseEnvelope.payload))`.
 * - `agent`: the agent's own code: every regular file under the directory the agent runs from
 *   (`dist/` when installed; `src/` under tsx), sorted by relative POSIX path, hashed as
 *   `SHA-256( for each file: path || 0x00 || sha256(content) || 0x0a )`.
 * - `config`: SHA-256 of the canonical JSON (RFC 8785) of the agent's effective configuration,
 *   in which each configuration file (the trusted public key or certificate chain) appears as the
 *   SHA-256 of its content. Re-read from disk at every measurement.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import {
  isModelSigningError,
  verifyModel,
  type ModelTrust,
  type ModelVerification,
} from '../runtime/model-signing/index.js';
import { parseBundle } from '../runtime/model-signing/bundle.js';

export interface Measurements {
  /** SHA-256 of the verified signature's DSSE payload. */
  readonly weights: string;
  /** SHA-256 over the agent's code files. */
  readonly agent: string;
  /** SHA-256 of the canonical effective configuration. */
  readonly config: string;
}

/**
 * Why the agent is quarantined. The model-signing codes (digest_mismatch, file_missing,
 * file_unexpected, signature_invalid, key_mismatch, chain_invalid, payload_malformed,
 * path_refused, model_empty) come from verifying the weights; the others are the agent's:
 * - code_changed / config_changed: the code or config on disk is no longer what the agent
 *   started with (the running process would attest to something it does not run);
 * - signature_changed: the signature file changed while it was being verified (measured again);
 * - measure_failed: anything else (an unreadable file, …).
 */
export interface QuarantineReason {
  readonly code: string;
  readonly message: string;
  /** The model-relative files at fault, when there are some. */
  readonly files?: readonly string[];
}

export interface ModelFacts {
  readonly name: string;
  /** The statement's subject digest (SHA-256 over the resources' digests). */
  readonly rootDigest: string;
  readonly items: number;
  readonly signer: string;
}

export type MeasureResult =
  | { readonly ok: true; readonly measurements: Measurements; readonly model: ModelFacts }
  | { readonly ok: false; readonly reason: QuarantineReason };

/** The inputs of the `config` measurement; files are hashed by content at each measurement. */
export interface ConfigInputs {
  /** Plain settings (JSON values). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Configuration files by role (for example `publicKey`, `certificateChain.0`). */
  readonly files: Readonly<Record<string, string>>;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function listFiles(root: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(join(root, prefix), { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(root, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/** The `agent` measurement of the code under `root` (see the file comment). */
export async function measureCode(root: string): Promise<string> {
  // Sorted by UTF-16 code units, which equals byte order for the ASCII names of a build.
  const files = (await listFiles(root)).sort();
  const listing = createHash('sha256');
  for (const rel of files) {
    const digest = sha256Hex(await readFile(join(root, rel)));
    listing.update(`${rel}\0${digest}\n`);
  }
  return listing.digest('hex');
}

/** The `config` measurement (see the file comment). */
export async function measureConfig(inputs: ConfigInputs): Promise<string> {
  const files: Record<string, string> = {};
  for (const [role, path] of Object.entries(inputs.files)) files[role] = sha256Hex(await readFile(path));
  const text = canonicalize({ settings: inputs.settings, files });
  if (text === undefined) throw new Error('the agent configuration cannot be canonicalised');
  return sha256Hex(text);
}

export interface WeightsOptions {
  readonly modelDir: string;
  readonly signature: string;
  readonly trust: ModelTrust;
  readonly ignorePaths?: readonly string[];
}

function signerText(verification: ModelVerification): string {
  const signer = verification.signer;
  return signer.kind === 'public-key'
    ? `public key ${signer.hint}`
    : `certificate ${signer.subjects[0] ?? ''} (${signer.leafFingerprint256})`;
}

/** Verifies the weights against their signature; the `weights` measurement and the model's facts. */
export async function measureWeights(
  options: WeightsOptions,
): Promise<{ weights: string; model: ModelFacts } | { reason: QuarantineReason }> {
  try {
    const before = await readFile(options.signature);
    const verification = await verifyModel(options.modelDir, options.signature, {
      trust: options.trust,
      ...(options.ignorePaths ? { ignorePaths: options.ignorePaths } : {}),
    });
    // verifyModel read the file itself: the digest is taken only if it verified those same bytes.
    const after = await readFile(options.signature);
    if (!before.equals(after)) {
      return {
        reason: { code: 'signature_changed', message: 'the signature file changed while it was verified' },
      };
    }
    return {
      weights: sha256Hex(parseBundle(after).payload),
      model: {
        name: verification.modelName,
        rootDigest: verification.rootDigest,
        items: verification.manifest.items.length,
        signer: signerText(verification),
      },
    };
  } catch (err) {
    if (isModelSigningError(err)) {
      return {
        reason: {
          code: err.code,
          message: err.message,
          ...(err.files.length > 0 ? { files: [...err.files] } : {}),
        },
      };
    }
    return { reason: { code: 'measure_failed', message: err instanceof Error ? err.message : String(err) } };
  }
}
