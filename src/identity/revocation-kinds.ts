import { createHash } from 'node:crypto';

/**
 * What can be revoked. `token`: the SHA-256 (hex) of a bearer token; `jti`: a JWT id;
 * `subject`: a principal id (`issuer#sub` for OIDC users, `service:NAME` for API keys);
 * `device`: a device id; `session`: an OIDC session id (`sid`); `apikey`: an API key id;
 * `certificate`: a client certificate serial number (hex).
 */
export const REVOCATION_KINDS = [
  'token',
  'jti',
  'subject',
  'device',
  'session',
  'apikey',
  'certificate',
] as const;
export type RevocationKind = (typeof REVOCATION_KINDS)[number];

export const MAX_VALUE_LENGTH = 512;
export const MAX_REASON_LENGTH = 500;

/** Stable codes for refused revocation input (used by the CLI and the admin API). */
export type RevocationInputError = 'invalid_kind' | 'invalid_value' | 'invalid_reason' | 'invalid_ttl';

export class RevocationInputRefused extends Error {
  constructor(
    readonly code: RevocationInputError,
    message: string,
  ) {
    super(message);
    this.name = 'RevocationInputRefused';
  }
}

export function isRevocationKind(value: unknown): value is RevocationKind {
  return typeof value === 'string' && (REVOCATION_KINDS as readonly string[]).includes(value);
}

/** The SHA-256 (hex) under which a bearer token is revoked; the token itself is never stored. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Printable text without control characters (C0, DEL, C1) or lone surrogates. */
const PRINTABLE = /^[^\p{Cc}\p{Cs}]+$/u;
const SHAPES: Readonly<Record<RevocationKind, RegExp>> = {
  token: /^[0-9a-f]{64}$/,
  jti: PRINTABLE,
  subject: PRINTABLE,
  device: PRINTABLE,
  session: PRINTABLE,
  apikey: /^[a-z0-9]{1,64}$/,
  certificate: /^[0-9a-f]{1,128}$/,
};

/**
 * The form a value is stored and looked up in, or undefined when it cannot be one of `kind`.
 * Certificate serials lose colons, case and leading zeros (`0A:1B` and `a1b` are one serial);
 * token hashes are lower-cased. Linear in the input, which is bounded first.
 */
export function normaliseValue(kind: RevocationKind, value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_VALUE_LENGTH) return undefined;
  let text = value;
  if (kind === 'token') text = value.toLowerCase();
  if (kind === 'certificate')
    text = value
      .replaceAll(':', '')
      .toLowerCase()
      .replace(/^0+(?=.)/, '');
  return SHAPES[kind].test(text) ? text : undefined;
}

/** Checks a reason: optional printable text of at most 500 characters. */
export function checkReason(reason: unknown): string {
  if (reason === undefined || reason === null || reason === '') return '';
  if (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH || !PRINTABLE.test(reason)) {
    throw new RevocationInputRefused(
      'invalid_reason',
      `reason must be printable text of at most ${MAX_REASON_LENGTH} characters`,
    );
  }
  return reason;
}

/** Checks kind and value together; throws RevocationInputRefused with a stable code. */
export function checkTarget(kind: unknown, value: unknown): { kind: RevocationKind; value: string } {
  if (!isRevocationKind(kind)) {
    throw new RevocationInputRefused('invalid_kind', `kind must be one of ${REVOCATION_KINDS.join(', ')}`);
  }
  const normalised = normaliseValue(kind, value);
  if (normalised === undefined) {
    const shape =
      kind === 'token'
        ? 'the SHA-256 of the token, 64 hex digits'
        : kind === 'apikey'
          ? 'an API key id'
          : kind === 'certificate'
            ? 'a hex serial number'
            : `printable text of at most ${MAX_VALUE_LENGTH} characters`;
    throw new RevocationInputRefused('invalid_value', `value for ${kind} must be ${shape}`);
  }
  return { kind, value: normalised };
}

/**
 * How a revocation is named in audit rows and logs: a token hash only by its first 16 hex digits
 * (64 bits), so that the log never holds enough to look the token up elsewhere.
 */
export function revocationTarget(kind: RevocationKind, value: string): string {
  return `${kind}:${kind === 'token' ? `${value.slice(0, 16)}…` : value}`;
}

/** One revocation, as held by every replica and carried on the bus. */
export interface Revocation {
  readonly kind: RevocationKind;
  /** Normalised (see normaliseValue); for `token`, a SHA-256, never the token. */
  readonly value: string;
  readonly reason: string;
  /** Who revoked (`cli:user@host`, a SPIFFE ID, …). */
  readonly actor: string;
  /** ISO-8601 times. */
  readonly revokedAt: string;
  readonly expiresAt: string;
}

/** A revocation with its place in the bus log (0 when it came from no log slot). */
export interface SequencedRevocation extends Revocation {
  readonly seq: number;
  readonly expiresAtMs: number;
}

export const MAX_ACTOR_LENGTH = 256;

function field(o: Record<string, unknown>, name: string, max: number): string | undefined {
  const value = o[name];
  return typeof value === 'string' && value.length <= max ? value : undefined;
}

/** Reads a revocation from the bus; undefined for anything malformed (it is then ignored). */
export function parseRevocation(text: string): SequencedRevocation | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  return revocationOf(o as Record<string, unknown>);
}

export function revocationOf(o: Record<string, unknown>): SequencedRevocation | undefined {
  const kind = o.kind;
  if (!isRevocationKind(kind)) return undefined;
  const value = normaliseValue(kind, o.value);
  const reason = field(o, 'reason', MAX_REASON_LENGTH);
  const actor = field(o, 'actor', MAX_ACTOR_LENGTH);
  const revokedAt = field(o, 'revokedAt', 40);
  const expiresAt = field(o, 'expiresAt', 40);
  const seq = o.seq;
  const expiresAtMs = expiresAt === undefined ? NaN : Date.parse(expiresAt);
  if (value === undefined || reason === undefined || actor === undefined || revokedAt === undefined)
    return undefined;
  if (expiresAt === undefined || !Number.isFinite(expiresAtMs)) return undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  return { kind, value, reason, actor, revokedAt, expiresAt, seq, expiresAtMs };
}

/** The bus form of a revocation, as an object (for the snapshot) … */
export function wireOf(r: SequencedRevocation): Record<string, unknown> {
  const { kind, value, reason, actor, revokedAt, expiresAt, seq } = r;
  return { v: 1, seq, kind, value, reason, actor, revokedAt, expiresAt };
}

/** … and as text (for a log slot and a message). */
export function serialiseRevocation(r: SequencedRevocation): string {
  return JSON.stringify(wireOf(r));
}
