// C2SP signed notes (https://c2sp.org/signed-note) and tlog checkpoints, verified with WebCrypto
// against ONE verifier key the user pinned: the browser-side of src/ledger/note.ts and
// checkpoint.ts. Ed25519 (signature type 0x01) only: the ledger signs with Ed25519.
import { concat, equalBytes, fromBase64, sha256, toHex, utf8, type Subtle } from './bytes.js';

export const SIGNATURE_TYPE_ED25519 = 0x01;
const SIGNATURE_PREFIX = '\u2014 ';
const VERIFIER_KEY = /^([^+]*)\+([0-9a-fA-F]{8})\+(.*)$/s;
const FORBIDDEN_IN_NAME = /[\p{White_Space}+]/u;
const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const MAX_SIGNATURES = 100;

export class NoteVerifyError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'NoteVerifyError';
    this.code = code;
  }
}

/** A parsed verifier key `<name>+<8 hex key hash>+<base64(0x01 ‖ 32-byte Ed25519 key)>`. */
export interface VerifierKey {
  readonly name: string;
  readonly keyHash: number;
  readonly publicKey: Uint8Array;
  /** SHA-256 of the raw public key, hex: what the user compares with the operator's. */
  readonly fingerprint: string;
}

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly extensions: readonly string[];
}

function isValidKeyName(name: string): boolean {
  return name !== '' && !FORBIDDEN_IN_NAME.test(name) && !hasControl(name, false);
}

function hasControl(s: string, allowNewline: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && !(allowNewline && c === 0x0a)) return true;
    if (c >= 0xd800 && c <= 0xdbff) {
      const low = s.charCodeAt(i + 1);
      if (!(low >= 0xdc00 && low <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

/** Key hash of c2sp.org/signed-note type 0x01: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key). */
export async function ed25519KeyHash(subtle: Subtle, name: string, publicKey: Uint8Array): Promise<number> {
  const digest = await sha256(
    subtle,
    concat(utf8(`${name}\n`), Uint8Array.of(SIGNATURE_TYPE_ED25519), publicKey),
  );
  return new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0);
}

/** Parses a verifier key string and checks that its key hash is that of its name and key. */
export async function parseVerifierKey(subtle: Subtle, text: string): Promise<VerifierKey> {
  const [, name = '', hash = '', key64 = ''] = VERIFIER_KEY.exec(text.trim()) ?? [];
  const blob = fromBase64(key64);
  if (!isValidKeyName(name) || blob === undefined || blob.length < 2) {
    throw new NoteVerifyError('verifier_key_malformed', 'the key is not <name>+<8 hex digits>+<base64 key>');
  }
  if (blob[0] !== SIGNATURE_TYPE_ED25519) {
    throw new NoteVerifyError('unsupported_algorithm', 'only Ed25519 verifier keys (type 01) are supported');
  }
  const publicKey = blob.subarray(1);
  if (publicKey.length !== 32)
    throw new NoteVerifyError('verifier_key_malformed', 'an Ed25519 key is 32 bytes');
  const keyHash = await ed25519KeyHash(subtle, name, publicKey);
  if (keyHash !== Number.parseInt(hash, 16)) {
    throw new NoteVerifyError('key_hash_mismatch', 'the key hash does not match the name and key');
  }
  return { name, keyHash, publicKey, fingerprint: toHex(await sha256(subtle, publicKey)) };
}

/**
 * Verifies a signed note: exactly one signature by the pinned key, and it verifies over the note
 * text. Signatures by other keys (witnesses) are ignored. Returns the signed text.
 */
export async function openNote(subtle: Subtle, note: string, key: VerifierKey): Promise<string> {
  if (hasControl(note, true)) throw new NoteVerifyError('note_malformed', 'a control character in the note');
  if (!note.endsWith('\n'))
    throw new NoteVerifyError('note_malformed', 'the note does not end with a newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteVerifyError('note_malformed', 'no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block === '') throw new NoteVerifyError('note_malformed', 'the note has no signature lines');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteVerifyError('note_malformed', 'too many signatures');
  const mine: Uint8Array[] = [];
  for (const line of lines) {
    if (!line.startsWith(SIGNATURE_PREFIX))
      throw new NoteVerifyError('note_malformed', 'a bad signature line');
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const bytes = space < 0 ? undefined : fromBase64(rest.slice(space + 1));
    if (!isValidKeyName(name) || bytes === undefined || bytes.length < 5) {
      throw new NoteVerifyError('note_malformed', 'a bad signature line');
    }
    const hash = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
    if (name === key.name && hash === key.keyHash) mine.push(bytes.subarray(4));
  }
  if (mine.length === 0) throw new NoteVerifyError('note_unverified', 'not signed by the pinned key');
  if (mine.length > 1)
    throw new NoteVerifyError('note_duplicate_signature', 'two signatures by the pinned key');
  const signature = mine[0] as Uint8Array;
  let ok = false;
  try {
    const cryptoKey = await subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, ['verify']);
    ok = await subtle.verify({ name: 'Ed25519' }, cryptoKey as never, signature, utf8(text));
  } catch {
    ok = false; // fail closed
  }
  if (!ok)
    throw new NoteVerifyError('note_signature_invalid', 'the signature by the pinned key does not verify');
  return text;
}

/** Parses a checkpoint body (origin, decimal size, base64 root hash, extension lines) strictly. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new NoteVerifyError('checkpoint_malformed', 'no final newline');
  const [origin, size, root, ...extensions] = text.slice(0, -1).split('\n');
  if (origin === undefined || size === undefined || root === undefined) {
    throw new NoteVerifyError('checkpoint_malformed', 'a checkpoint has origin, size and root hash');
  }
  if (origin === '' || extensions.some((line) => line === '')) {
    throw new NoteVerifyError('checkpoint_malformed', 'an empty checkpoint line');
  }
  if (!CANONICAL_DECIMAL.test(size) || !Number.isSafeInteger(Number(size))) {
    throw new NoteVerifyError('checkpoint_malformed', 'the size is not a canonical decimal');
  }
  const rootHash = fromBase64(root);
  if (rootHash?.length !== 32)
    throw new NoteVerifyError('checkpoint_malformed', 'the root hash is not 32 bytes');
  return { origin, size: Number(size), rootHash, extensions };
}

/**
 * Verifies a signed checkpoint against the pinned key and parses it. The origin must be the key's
 * name: the ledger signs under its origin (src/ledger/signing.ts).
 */
export async function openCheckpoint(subtle: Subtle, note: string, key: VerifierKey): Promise<Checkpoint> {
  const checkpoint = parseCheckpoint(await openNote(subtle, note, key));
  if (checkpoint.origin !== key.name) {
    throw new NoteVerifyError('checkpoint_origin_mismatch', `the checkpoint is of log ${checkpoint.origin}`);
  }
  return checkpoint;
}

export function sameRoot(a: Checkpoint, b: Checkpoint): boolean {
  return a.size === b.size && equalBytes(a.rootHash, b.rootHash);
}
