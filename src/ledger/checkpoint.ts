/**
 * Transparency-log checkpoints (https://c2sp.org/tlog-checkpoint): signed notes whose text is the
 * origin line, the tree size in decimal, the base64 RFC 6962 root hash, then optional extension
 * lines. Our signed tree heads use this format so that existing tooling (witnesses, monitors,
 * golang.org/x/mod/sumdb/note) can read and cosign them.
 */
import {
  assertNoteCharacters,
  isNoteError,
  openNote,
  signNote,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
} from './note.js';

export type CheckpointErrorCode =
  | 'checkpoint_unterminated' // the text does not end with a newline
  | 'checkpoint_too_few_lines' // fewer than origin, size and root hash
  | 'checkpoint_origin_invalid' // empty, or holds a control character
  | 'checkpoint_size_invalid' // not a canonical decimal (no sign, no leading zero)
  | 'checkpoint_size_too_large' // above Number.MAX_SAFE_INTEGER
  | 'checkpoint_root_invalid' // not canonical base64 of exactly ROOT_HASH_BYTES bytes
  | 'checkpoint_extension_invalid' // an empty extension line, or one with a control character
  | 'checkpoint_origin_mismatch'; // a verified checkpoint from another log than expected

/** An error in a checkpoint body. Signature problems are NoteErrors. */
export class CheckpointError extends Error {
  readonly code: CheckpointErrorCode;

  constructor(code: CheckpointErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CheckpointError';
    this.code = code;
  }
}

export function isCheckpointError(err: unknown, code?: CheckpointErrorCode): err is CheckpointError {
  return err instanceof CheckpointError && (code === undefined || err.code === code);
}

/** SHA-256, as RFC 6962 hashing uses. */
export const ROOT_HASH_BYTES = 32;

export interface CheckpointInput {
  /** The log's identity, for example `ztgate.example/audit`; it should match the signing key's name. */
  readonly origin: string;
  /** Number of leaves; a safe integer (up to 2^53 - 1). */
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** Opaque, non-empty lines. The spec does NOT RECOMMEND them: monitors cannot audit them. */
  readonly extensions?: readonly string[];
}

export interface Checkpoint extends CheckpointInput {
  readonly extensions: readonly string[];
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The exact note text that was verified. */
  readonly text: string;
  /** Signatures by known keys, all verified (at least one). */
  readonly verifiedBy: readonly NoteSignature[];
  /** Signatures by unknown keys (witnesses we do not know, rotated keys), ignored. */
  readonly unverified: readonly NoteSignature[];
}

const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The note text (body) of a checkpoint, ending in a newline. Throws on a value it cannot write. */
export function formatCheckpoint(input: CheckpointInput): string {
  const extensions = input.extensions ?? [];
  assertLine(input.origin, 'checkpoint_origin_invalid');
  if (!Number.isSafeInteger(input.size) || input.size < 0) {
    throw new CheckpointError('checkpoint_size_invalid', 'the size is a non-negative safe integer');
  }
  if (input.rootHash.length !== ROOT_HASH_BYTES) {
    throw new CheckpointError('checkpoint_root_invalid', `the root hash is ${ROOT_HASH_BYTES} bytes`);
  }
  for (const line of extensions) assertLine(line, 'checkpoint_extension_invalid');
  const root = Buffer.from(input.rootHash).toString('base64');
  return [input.origin, String(input.size), root, ...extensions].join('\n') + '\n';
}

/** Parses a checkpoint body strictly. The body must come from a verified note (see openCheckpoint). */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new CheckpointError('checkpoint_unterminated', 'no final newline');
  const [origin, size, root, ...extensions] = text.slice(0, -1).split('\n');
  if (origin === undefined || size === undefined || root === undefined) {
    throw new CheckpointError('checkpoint_too_few_lines', 'a checkpoint has origin, size and root hash');
  }
  assertLine(origin, 'checkpoint_origin_invalid');
  for (const line of extensions) assertLine(line, 'checkpoint_extension_invalid');
  return { origin, size: parseSize(size), rootHash: parseRootHash(root), extensions };
}

function parseSize(line: string): number {
  if (!CANONICAL_DECIMAL.test(line)) {
    throw new CheckpointError('checkpoint_size_invalid', 'the size is a decimal without leading zeros');
  }
  const size = Number(line);
  if (!Number.isSafeInteger(size)) {
    throw new CheckpointError('checkpoint_size_too_large', 'the size is above 2^53 - 1');
  }
  return size;
}

function parseRootHash(line: string): Uint8Array {
  const bytes = BASE64.test(line) ? Buffer.from(line, 'base64') : undefined;
  // Re-encoding catches non-zero padding bits, so one root hash has exactly one text form.
  if (bytes?.length !== ROOT_HASH_BYTES || bytes.toString('base64') !== line) {
    throw new CheckpointError(
      'checkpoint_root_invalid',
      `the root hash is base64 of ${ROOT_HASH_BYTES} bytes`,
    );
  }
  return new Uint8Array(bytes);
}

function assertLine(line: string, code: CheckpointErrorCode): void {
  if (line === '') throw new CheckpointError(code, 'an empty line');
  try {
    assertNoteCharacters(line, false);
  } catch (cause) {
    if (!isNoteError(cause)) throw cause;
    throw new CheckpointError(code, 'a control character or a lone surrogate', { cause });
  }
}

/**
 * Signs a checkpoint (given as its fields, or as body text that is parsed strictly first) with
 * every signer and returns the signed note.
 */
export async function signCheckpoint(
  body: string | CheckpointInput,
  signers: readonly NoteSigner[],
): Promise<string> {
  // A body is parsed first: never sign what a strict reader would refuse.
  const text = typeof body === 'string' ? formatCheckpoint(parseCheckpoint(body)) : formatCheckpoint(body);
  return signNote(text, signers);
}

/**
 * Verifies a signed checkpoint against the known keys (signed-note rules: see openNote), then
 * parses its body. With `origin`, a checkpoint of another log is refused.
 */
export function openCheckpoint(
  signed: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  options: { readonly origin?: string } = {},
): OpenedCheckpoint {
  const note = openNote(signed, verifiers);
  const checkpoint = parseCheckpoint(note.text);
  if (options.origin !== undefined && checkpoint.origin !== options.origin) {
    throw new CheckpointError('checkpoint_origin_mismatch', 'the checkpoint is from another log');
  }
  return { checkpoint, text: note.text, verifiedBy: note.verified, unverified: note.unverified };
}
