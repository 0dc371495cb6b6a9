import { KeyError } from './errors.js';
import { formatKeyRef, parseKeyRef } from './key-id.js';
import type { KeyRef } from './types.js';

/**
 * The envelope: a self-describing, versioned ciphertext.
 *
 *   offset  size  field
 *   0       3     magic "ZTE"
 *   3       1     format version (1)
 *   4       1     payload algorithm (1 = AES-256-GCM, 96-bit nonce, 128-bit tag)
 *   5       1     flags (0; reserved)
 *   6       1     length K of the key id
 *   7       K     key id of the key-encryption key, UTF-8 `name@version`
 *   7+K     2     length W of the wrapped data key (big-endian)
 *   9+K     W     wrapped data key (opaque to us; the provider's format)
 *   9+K+W   12    nonce
 *   21+K+W  n     ciphertext
 *   end-16  16    GCM tag
 *
 * The payload's GCM additional data is the first 6 bytes (magic, version, algorithm, flags) and
 * the encoded context, NOT the key id or the wrapped key: a re-wrap job can therefore replace
 * those two under a new key version without touching (or decrypting) the payload.
 */
export const ENVELOPE_MAGIC = Buffer.from('ZTE', 'latin1');
export const ENVELOPE_VERSION = 1;
export const ALG_AES_256_GCM = 1;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
const FIXED_PREFIX = 6;

export interface EnvelopeParts {
  readonly algorithm: number;
  readonly keyId: KeyRef;
  readonly wrappedKey: Buffer;
  readonly nonce: Buffer;
  /** Ciphertext followed by the tag. */
  readonly sealed: Buffer;
  /** The fixed 6-byte prefix, part of the payload's additional data. */
  readonly prefix: Buffer;
}

export function envelopePrefix(): Buffer {
  return Buffer.concat([ENVELOPE_MAGIC, Buffer.of(ENVELOPE_VERSION, ALG_AES_256_GCM, 0)]);
}

export function serializeEnvelope(parts: Omit<EnvelopeParts, 'prefix' | 'algorithm'>): Buffer {
  const keyId = Buffer.from(formatKeyRef(parts.keyId), 'utf8');
  if (keyId.length > 255) throw new KeyError('invalid_argument', 'key id too long for an envelope');
  if (parts.wrappedKey.length > 0xffff)
    throw new KeyError('invalid_argument', 'wrapped key too long for an envelope');
  const wrappedLength = Buffer.alloc(2);
  wrappedLength.writeUInt16BE(parts.wrappedKey.length);
  return Buffer.concat([
    envelopePrefix(),
    Buffer.of(keyId.length),
    keyId,
    wrappedLength,
    parts.wrappedKey,
    parts.nonce,
    parts.sealed,
  ]);
}

function malformed(why: string): KeyError {
  return new KeyError('ciphertext_malformed', `not a valid ztgate envelope: ${why}`);
}

/** Parses an envelope's header; every length is checked against the buffer before it is used. */
export function parseEnvelope(bytes: Uint8Array): EnvelopeParts {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < FIXED_PREFIX + 1) throw malformed('truncated header');
  if (!buf.subarray(0, 3).equals(ENVELOPE_MAGIC)) throw malformed('bad magic');
  if (buf[3] !== ENVELOPE_VERSION) throw malformed(`unsupported format version ${buf[3]}`);
  if (buf[4] !== ALG_AES_256_GCM) throw malformed(`unsupported algorithm ${buf[4]}`);
  if (buf[5] !== 0) throw malformed('unknown flags');
  const keyIdLength = buf[6] as number;
  let offset = 7;
  if (buf.length < offset + keyIdLength + 2) throw malformed('truncated key id');
  let keyId: KeyRef;
  try {
    keyId = parseKeyRef(buf.subarray(offset, offset + keyIdLength).toString('utf8'));
  } catch {
    throw malformed('bad key id');
  }
  offset += keyIdLength;
  const wrappedLength = buf.readUInt16BE(offset);
  offset += 2;
  if (buf.length < offset + wrappedLength + NONCE_BYTES + TAG_BYTES) throw malformed('truncated body');
  const wrappedKey = buf.subarray(offset, offset + wrappedLength);
  offset += wrappedLength;
  const nonce = buf.subarray(offset, offset + NONCE_BYTES);
  offset += NONCE_BYTES;
  return {
    algorithm: ALG_AES_256_GCM,
    keyId,
    wrappedKey,
    nonce,
    sealed: buf.subarray(offset),
    prefix: buf.subarray(0, FIXED_PREFIX),
  };
}

/** What an envelope is bound to: decrypting it under any other context fails. */
export interface EnvelopeContext {
  readonly tenant: string;
  /** The object's id (for example a pseudonym token or a ledger entry id). */
  readonly recordId: string;
  /** What the data is for (for example `pseudonym`, `audit-payload`, `config-secret`). */
  readonly purpose: string;
}

function lengthPrefixed(label: string, fields: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(label, 'utf8')];
  for (const field of fields) {
    const bytes = Buffer.from(field, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

/** The payload's additional data: unambiguous (length-prefixed), so no two contexts collide. */
export function payloadAad(prefix: Buffer, context: EnvelopeContext): Buffer {
  return Buffer.concat([
    prefix,
    lengthPrefixed('ztgate-payload-v1', [context.tenant, context.recordId, context.purpose]),
  ]);
}

/**
 * The wrapped data key's additional data: tenant and purpose only, so that one data key may serve
 * many records of one tenant and purpose when a caller asks for per-period keys.
 */
export function dataKeyAad(context: Pick<EnvelopeContext, 'tenant' | 'purpose'>): Buffer {
  return lengthPrefixed('ztgate-dek-v1', [context.tenant, context.purpose]);
}

export function envelopeKeyId(bytes: Uint8Array): string {
  return formatKeyRef(parseEnvelope(bytes).keyId);
}
