/**
 * Signed notes (https://c2sp.org/signed-note, as golang.org/x/mod/sumdb/note writes them): a UTF-8
 * text ending in a newline, a blank line, then lines `— <key name> <base64(key hash ‖ signature)>`.
 * Signature types: Ed25519 (0x01) and ECDSA P-256/SHA-256 with DER signatures (0x02, as Rekor).
 */
import * as crypto from 'node:crypto';

export type NoteErrorCode =
  | 'note_not_utf8' // not well-formed UTF-8 (or a lone surrogate in a string)
  | 'note_control_character' // an ASCII control character other than newline
  | 'note_unterminated' // the note, or the text to sign, does not end with a newline
  | 'note_missing_blank_line' // no blank line before the signature lines
  | 'note_no_signatures' // an empty signature block
  | 'note_signature_line_malformed' // not `— <name> <base64>` with 5 or more decoded bytes
  | 'note_invalid_key_name' // empty, or holds a Unicode space or a plus sign
  | 'note_too_many_signatures' // more than MAX_SIGNATURES signature lines
  | 'note_duplicate_signature' // two signatures by one known key, or two signers with one key
  | 'note_unverified' // no signature by a known key: the text must be ignored
  | 'note_signature_invalid' // a signature by a known key does not verify
  | 'note_ambiguous_key' // two different verifiers with the same name and key hash
  | 'note_verifier_key_malformed' // not `<name>+<8 hex digits>+<base64>`, or the key does not parse
  | 'note_key_hash_mismatch' // a verifier key string's key hash does not match its key
  | 'note_unsupported_algorithm' // a signature type or key algorithm not supported here
  | 'note_key_hash_invalid' // a key hash that is not a uint32
  | 'note_signer_invalid' // a signer built from something other than a private key
  | 'note_signer_failed'; // a signer threw, or its signature does not verify under its public key

/** An error of the note layer, with a stable `code`. Messages hold no key material. */
export class NoteError extends Error {
  readonly code: NoteErrorCode;

  constructor(code: NoteErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NoteError';
    this.code = code;
  }
}

export function isNoteError(err: unknown, code?: NoteErrorCode): err is NoteError {
  return err instanceof NoteError && (code === undefined || err.code === code);
}

export const SIGNATURE_TYPE_ED25519 = 0x01;
export const SIGNATURE_TYPE_ECDSA = 0x02;
/** The Go implementation's limit; the spec asks verifiers to accept at least 16. */
export const MAX_SIGNATURES = 100;

/** Signs note texts with one key. `keyHash` is the uint32 key ID written before each signature. */
export interface NoteSigner {
  readonly name: string;
  readonly keyHash: number;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** Verifies signatures of one known key. `verify` returns false, never throws, on a bad signature. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyHash: number;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** One signature line; `signature` excludes the 4-byte key hash. */
export interface NoteSignature {
  readonly name: string;
  readonly keyHash: number;
  readonly signature: Uint8Array;
}

export interface ParsedNote {
  /** The signed text, including its final newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface OpenedNote {
  readonly text: string;
  /** Signatures by known keys, all verified. Never empty. */
  readonly verified: readonly NoteSignature[];
  /** Signatures by unknown keys, ignored (exact repeats dropped). */
  readonly unverified: readonly NoteSignature[];
}

const SIGNATURE_PREFIX = '\u2014 ';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const FORBIDDEN_IN_NAME = /[\p{White_Space}+]/u;
// With the u flag a surrogate pair is one code point, so only unpaired halves match.
const LONE_SURROGATE = /\p{Cs}/u;
// The name has no '+', so the first two '+' split the fields; base64 may hold more.
const VERIFIER_KEY = /^([^+]*)\+([0-9a-fA-F]{8})\+(.*)$/s;
// An Ed25519 SubjectPublicKeyInfo is this fixed header and the raw 32-byte key (RFC 8410).
const ED25519_SPKI_HEADER = Buffer.from('302a300506032b6570032100', 'hex');
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Throws unless `s` is well-formed (encodes to UTF-8) with no control character but newline. */
export function assertNoteCharacters(s: string, allowNewline = true): void {
  const problem = characterProblem(s, allowNewline);
  if (problem === 'note_not_utf8') throw new NoteError(problem, 'the text holds a lone surrogate');
  if (problem) throw new NoteError(problem, 'the text holds an ASCII control character');
}

function characterProblem(s: string, allowNewline: boolean): NoteErrorCode | undefined {
  if (LONE_SURROGATE.test(s)) return 'note_not_utf8';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && !(allowNewline && c === 0x0a)) return 'note_control_character';
  }
  return undefined;
}

/** Non-empty, no Unicode space, no '+', no control character. */
export function isValidKeyName(name: string): boolean {
  return name !== '' && !FORBIDDEN_IN_NAME.test(name) && characterProblem(name, false) === undefined;
}

function assertKeyName(name: string): void {
  if (!isValidKeyName(name)) throw new NoteError('note_invalid_key_name', 'spaces or "+" in a key name');
}

function assertKeyIdentity(name: string, keyHash: number): void {
  assertKeyName(name);
  // `>>> 0` maps every number to a uint32: only a uint32 survives it unchanged.
  if (keyHash >>> 0 !== keyHash) throw new NoteError('note_key_hash_invalid', 'a key hash is a uint32');
}

function assertNoteText(text: string): void {
  assertNoteCharacters(text);
  if (!text.endsWith('\n')) throw new NoteError('note_unterminated', 'no newline at the end');
}

function decodeNote(input: string | Uint8Array): string {
  if (typeof input === 'string') return input;
  try {
    return utf8.decode(input);
  } catch (cause) {
    throw new NoteError('note_not_utf8', 'the note is not valid UTF-8', { cause });
  }
}

/** Parses a signed note without verifying anything. Its text must not be trusted yet. */
export function parseNote(input: string | Uint8Array): ParsedNote {
  const note = decodeNote(input);
  assertNoteText(note);
  // INVARIANT: the text ends at the LAST blank line; the text itself may contain blank lines.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('note_missing_blank_line', 'no blank line before the signatures');
  const block = note.slice(split + 2);
  if (block === '') throw new NoteError('note_no_signatures', 'the note has no signature lines');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('note_too_many_signatures', 'over the limit');
  return { text: note.slice(0, split + 1), signatures: lines.map(parseSignatureLine) };
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(SIGNATURE_PREFIX)) throw new NoteError('note_signature_line_malformed', 'no em dash');
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  const name = space < 0 ? rest : rest.slice(0, space);
  assertKeyName(name);
  const bytes = space < 0 ? undefined : decodeBase64(rest.slice(space + 1));
  if (!bytes || bytes.length < 5) throw new NoteError('note_signature_line_malformed', 'bad signature');
  return { name, keyHash: bytes.readUInt32BE(0), signature: bytes.subarray(4) };
}

/** Standard, padded, canonical base64 only (Buffer.from alone would accept almost anything). */
function decodeBase64(s: string): Buffer | undefined {
  if (!BASE64.test(s)) return undefined;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : undefined;
}

/** Writes a signed note. Throws when the text or a signature would break the format. */
export function formatNote(text: string, signatures: readonly NoteSignature[]): string {
  assertNoteText(text);
  if (signatures.length === 0) throw new NoteError('note_no_signatures', 'a note needs a signature');
  if (signatures.length > MAX_SIGNATURES) throw new NoteError('note_too_many_signatures', 'over the limit');
  const seen = new Set<string>();
  const lines = signatures.map((sig) => {
    assertKeyIdentity(sig.name, sig.keyHash);
    if (sig.signature.length === 0) throw new NoteError('note_signer_failed', 'an empty signature');
    const id = keyId(sig.name, sig.keyHash);
    if (seen.has(id)) throw new NoteError('note_duplicate_signature', `two signatures by ${id}`);
    seen.add(id);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(sig.keyHash);
    return `${SIGNATURE_PREFIX}${sig.name} ${Buffer.concat([prefix, sig.signature]).toString('base64')}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

/**
 * Signs `text` with every signer. Signatures in `existing` (a cosigning flow) come first, except
 * those by a key that signs again here, which are replaced.
 */
export async function signNote(
  text: string,
  signers: readonly NoteSigner[],
  existing: readonly NoteSignature[] = [],
): Promise<string> {
  assertNoteText(text);
  for (const signer of signers) assertKeyIdentity(signer.name, signer.keyHash);
  const message = Buffer.from(text, 'utf8');
  const fresh = await Promise.all(signers.map((signer) => signWith(signer, message)));
  const replaced = new Set(fresh.map((sig) => keyId(sig.name, sig.keyHash)));
  const kept = existing.filter((sig) => !replaced.has(keyId(sig.name, sig.keyHash)));
  return formatNote(text, [...kept, ...fresh]);
}

async function signWith(signer: NoteSigner, message: Uint8Array): Promise<NoteSignature> {
  try {
    return { name: signer.name, keyHash: signer.keyHash, signature: await signer.sign(message) };
  } catch (cause) {
    throw isNoteError(cause) ? cause : new NoteError('note_signer_failed', signer.name, { cause });
  }
}

/**
 * Parses and verifies a signed note against the known keys. Signatures by unknown keys are
 * ignored; a signature by a known key that fails, or two by the same known key, reject the note;
 * at least one known key must have signed.
 */
export function openNote(input: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const known = indexVerifiers(verifiers);
  const parsed = parseNote(input);
  const message = Buffer.from(parsed.text, 'utf8');
  const verified = new Map<string, NoteSignature>();
  const unverified = new Map<string, NoteSignature>();
  for (const sig of parsed.signatures) {
    const id = keyId(sig.name, sig.keyHash);
    const verifier = known.get(id);
    if (verifier === undefined) {
      unverified.set(`${id} ${Buffer.from(sig.signature).toString('base64')}`, sig);
      continue;
    }
    if (verified.has(id)) throw new NoteError('note_duplicate_signature', `two signatures by ${id}`);
    if (!safeVerify(verifier, message, sig.signature)) throw new NoteError('note_signature_invalid', id);
    verified.set(id, sig);
  }
  if (verified.size === 0) throw new NoteError('note_unverified', 'no signature by a known key');
  return { text: parsed.text, verified: [...verified.values()], unverified: [...unverified.values()] };
}

function indexVerifiers(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier> {
  const byId = new Map<string, NoteVerifier>();
  for (const verifier of verifiers) {
    assertKeyIdentity(verifier.name, verifier.keyHash);
    const id = keyId(verifier.name, verifier.keyHash);
    const other = byId.get(id);
    if (other !== undefined && other !== verifier) throw new NoteError('note_ambiguous_key', id);
    byId.set(id, verifier);
  }
  return byId;
}

function safeVerify(verifier: NoteVerifier, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verifier.verify(message, signature) === true;
  } catch {
    return false; // fail closed: a verifier that throws has not verified anything
  }
}

interface KeyDescription {
  readonly type: typeof SIGNATURE_TYPE_ED25519 | typeof SIGNATURE_TYPE_ECDSA;
  readonly publicKey: crypto.KeyObject;
  readonly keyBytes: Buffer; // after the type byte in a verifier key string
  readonly keyHash: number;
}

function describeKey(name: string, key: crypto.KeyObject): KeyDescription {
  assertKeyName(name);
  const publicKey = asPublicKey(key);
  if (publicKey.asymmetricKeyType === 'ed25519') {
    const keyBytes = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
    const type = SIGNATURE_TYPE_ED25519;
    const hashed = Buffer.concat([Buffer.from(`${name}\n`, 'utf8'), Buffer.from([type]), keyBytes]);
    return { type, publicKey, keyBytes, keyHash: sha256Prefix(hashed) };
  }
  if (publicKey.asymmetricKeyType === 'ec' && publicKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    const keyBytes = publicKey.export({ format: 'der', type: 'spki' });
    // Type 0x02 hashes the SPKI DER alone, without the name (c2sp.org/signed-note).
    return { type: SIGNATURE_TYPE_ECDSA, publicKey, keyBytes, keyHash: sha256Prefix(keyBytes) };
  }
  throw new NoteError('note_unsupported_algorithm', 'note keys are Ed25519 or ECDSA P-256');
}

function sha256Prefix(bytes: Buffer): number {
  return crypto.createHash('sha256').update(bytes).digest().readUInt32BE(0);
}

/** The key hash (key ID) of a key under a name, as c2sp.org/signed-note computes it. */
export function noteKeyHash(name: string, key: crypto.KeyObject): number {
  return describeKey(name, key).keyHash;
}

/** `<name>+<hex key hash>+<base64(type ‖ public key)>`, the string that verifiers configure. */
export function formatVerifierKey(name: string, key: crypto.KeyObject): string {
  const { type, keyBytes, keyHash } = describeKey(name, key);
  return `${name}+${hex(keyHash, 8)}+${Buffer.concat([Buffer.from([type]), keyBytes]).toString('base64')}`;
}

/** A verifier from a public KeyObject (Ed25519 or ECDSA P-256). */
export function verifierFromPublicKey(name: string, key: crypto.KeyObject): NoteVerifier {
  const { type, publicKey, keyHash } = describeKey(name, key);
  const verify: NoteVerifier['verify'] =
    type === SIGNATURE_TYPE_ED25519
      ? (message, signature) => crypto.verify(null, message, publicKey, signature)
      : (message, signature) =>
          crypto.verify('sha256', message, { key: publicKey, dsaEncoding: 'der' }, signature);
  return { name, keyHash, verify };
}

/** A verifier from a verifier key string; checks its key hash against its key. */
export function verifierFromKey(verifierKey: string): NoteVerifier {
  const [, name = '', hash16 = '', key64 = ''] = VERIFIER_KEY.exec(verifierKey) ?? [];
  const blob = decodeBase64(key64);
  if (!isValidKeyName(name) || blob === undefined || blob.length < 2) {
    throw new NoteError('note_verifier_key_malformed', 'not <name>+<8 hex digits>+<base64 key>');
  }
  const verifier = verifierFromPublicKey(name, publicKeyFromBlob(blob));
  if (verifier.keyHash !== Number.parseInt(hash16, 16)) {
    throw new NoteError('note_key_hash_mismatch', `the key hash of ${name} does not match its key`);
  }
  return verifier;
}

function publicKeyFromBlob(blob: Buffer): crypto.KeyObject {
  const [type, bytes] = [blob[0], blob.subarray(1)];
  if (type !== SIGNATURE_TYPE_ED25519 && type !== SIGNATURE_TYPE_ECDSA) {
    throw new NoteError('note_unsupported_algorithm', `signature type 0x${hex(type ?? 0, 2)}`);
  }
  const ed25519 = type === SIGNATURE_TYPE_ED25519;
  if (ed25519 && bytes.length !== 32) throw new NoteError('note_verifier_key_malformed', 'not 32 bytes');
  let key: crypto.KeyObject;
  try {
    const der = ed25519 ? Buffer.concat([ED25519_SPKI_HEADER, bytes]) : bytes;
    key = crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (cause) {
    throw new NoteError('note_verifier_key_malformed', 'the public key does not parse', { cause });
  }
  // The type byte must name the key's own algorithm: no Ed25519 key under the ECDSA type.
  if (key.asymmetricKeyType !== (ed25519 ? 'ed25519' : 'ec')) {
    throw new NoteError('note_verifier_key_malformed', 'the key does not fit its signature type');
  }
  return key;
}

/** A signer from a node:crypto private KeyObject (Ed25519 or ECDSA P-256). */
export function signerFromPrivateKey(name: string, privateKey: crypto.KeyObject): NoteSigner {
  if (privateKey.type !== 'private') throw new NoteError('note_signer_invalid', 'not a private key');
  const { type, keyHash } = describeKey(name, privateKey);
  const sign =
    type === SIGNATURE_TYPE_ED25519
      ? (message: Uint8Array) => crypto.sign(null, message, privateKey)
      : (message: Uint8Array) => crypto.sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
  return { name, keyHash, sign: async (message) => sign(message) };
}

export interface CallbackSignerOptions {
  readonly name: string;
  /** The public half of the key the callback signs with; it sets the key hash. */
  readonly publicKey: crypto.KeyObject;
  /**
   * Returns the raw signature of `message`: 64 bytes for Ed25519, ASN.1 DER for ECDSA. For a
   * KeyProvider: `async (m) => (await provider.sign(keyName, m)).signature`.
   */
  readonly sign: (message: Uint8Array) => Promise<Uint8Array>;
}

/**
 * A signer backed by a callback (a KeyProvider, an HSM). Each signature is verified under
 * `publicKey` before use: a provider that rotated to another key version, or returns another
 * encoding, fails here with `note_signer_failed` instead of publishing an unverifiable note.
 */
export function signerFromCallback(options: CallbackSignerOptions): NoteSigner {
  const verifier = verifierFromPublicKey(options.name, options.publicKey);
  return {
    name: verifier.name,
    keyHash: verifier.keyHash,
    async sign(message) {
      const signature = await options.sign(message);
      if (!safeVerify(verifier, message, signature))
        throw new NoteError('note_signer_failed', 'bad signature');
      return signature;
    },
  };
}

function asPublicKey(key: crypto.KeyObject): crypto.KeyObject {
  if (key.type === 'secret') throw new NoteError('note_unsupported_algorithm', 'not an asymmetric key');
  return key.type === 'public' ? key : crypto.createPublicKey(key);
}

function keyId(name: string, keyHash: number): string {
  return `${name}+${hex(keyHash, 8)}`;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}
