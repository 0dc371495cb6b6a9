// Signed system-prompt templates: a directory of prompt files signed like a model (the OpenSSF
// model-signing format, `ztgate model sign DIR`). The gateway injects a template only from the
// bytes it hashed itself against the verified signature, never from a later read of the file,
// so a file changed after verification is never what a model receives.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { ModelSigningError } from './model-signing/errors.js';
import { verifyModel, type ModelTrust, type VerifiedSigner } from './model-signing/verify.js';

/** File extensions that are templates; other signed files (a README) are covered but not served. */
export const TEMPLATE_EXTENSIONS = ['.txt', '.md', '.prompt'] as const;
/** A template larger than this is refused (a system prompt, not a document). */
export const MAX_TEMPLATE_BYTES = 64 * 1024;

export interface SystemPromptTemplate {
  /** The file's path inside the directory without its extension, e.g. `support` or `hr/intake`. */
  readonly name: string;
  readonly text: string;
  /** SHA-256 of the file, lowercase hex (as signed). */
  readonly sha256: string;
}

export interface SignedPromptSet {
  /** The signature's subject digest: names this exact set of templates. */
  readonly rootDigest: string;
  readonly signer: VerifiedSigner;
  readonly templates: ReadonlyMap<string, SystemPromptTemplate>;
}

function templateName(path: string): string | undefined {
  const ext = posix.extname(path);
  return (TEMPLATE_EXTENSIONS as readonly string[]).includes(ext) ? path.slice(0, -ext.length) : undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Verifies the directory's signature and every file's digest, then reads each template once and
 * checks the bytes read against the signed digest. Throws ModelSigningError (its code names what
 * failed: `digest_mismatch`, `signature_invalid`, …) on anything that does not verify.
 */
export async function loadSignedPrompts(
  dir: string,
  signaturePath: string,
  trust: ModelTrust,
): Promise<SignedPromptSet> {
  const verified = await verifyModel(dir, signaturePath, { trust });
  if (verified.manifest.serialization.method !== 'files')
    throw new ModelSigningError('payload_malformed', 'prompt templates must be signed file by file');
  const templates = new Map<string, SystemPromptTemplate>();
  for (const item of verified.manifest.items) {
    const name = templateName(item.path);
    if (name === undefined) continue;
    const bytes = await readFile(join(dir, ...item.path.split('/')));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    // The file verified a moment ago; what counts is that these bytes are the signed ones.
    if (sha256 !== item.digest)
      throw new ModelSigningError('digest_mismatch', `${item.path} changed while it was being verified`);
    if (bytes.length > MAX_TEMPLATE_BYTES)
      throw new ModelSigningError(
        'payload_malformed',
        `${item.path} is larger than ${MAX_TEMPLATE_BYTES} bytes`,
      );
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new ModelSigningError('payload_malformed', `${item.path} is not UTF-8 text`);
    }
    if (templates.has(name))
      throw new ModelSigningError('payload_malformed', `two templates are named ${name}`);
    templates.set(name, { name, text, sha256 });
  }
  return { rootDigest: verified.rootDigest, signer: verified.signer, templates };
}
