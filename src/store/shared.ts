import type { AuditQuery } from './types.js';

/** A numbered schema change. Numbered and append-only: never edit a shipped one, add a new one. */
export interface Migration {
  readonly version: number;
  readonly sql: string;
}

/** Clamps a page size to the documented range: default 100, at most 1000, never negative. */
export function limitOf(limit: number | undefined): number {
  const value = Math.floor(limit ?? 100);
  return Number.isNaN(value) ? 100 : Math.min(1000, Math.max(0, value));
}

/**
 * Clamps paging input to the documented range: default 100, at most 1000, never negative (a
 * negative LIMIT means "no limit" to SQLite).
 */
export function pageOf(query: AuditQuery): { afterSeq: number; limit: number } {
  const after = Math.floor(query.afterSeq ?? 0);
  return {
    afterSeq: Number.isFinite(after) ? Math.max(0, after) : 0,
    limit: limitOf(query.limit),
  };
}

/** Longest namespace, id or key name of an encrypted object, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 256;

/** Where an encrypted object lives. */
export interface ObjectKey {
  readonly namespace: string;
  readonly id: string;
}

// Errors name the argument and what is wrong with it, never its value: ids may be pseudonyms.
function invalid(what: string, problem: string): TypeError {
  return new TypeError(`encrypted objects: ${what} ${problem}`);
}

/**
 * A namespace, id or key name: a non-empty string of at most 256 characters. NUL is refused
 * because PostgreSQL text cannot hold it, and lone surrogates because both drivers would store
 * them as U+FFFD, so two different ids would name the same row.
 */
export function checkName(what: string, value: unknown): string {
  if (typeof value !== 'string') throw invalid(what, `must be a string, not ${typeOf(value)}`);
  if (value.length === 0) throw invalid(what, 'must not be empty');
  if (value.length > MAX_NAME_LENGTH) {
    throw invalid(what, `must be at most ${MAX_NAME_LENGTH} characters (it has ${value.length})`);
  }
  if (value.includes('\u0000')) throw invalid(what, 'must not contain NUL characters');
  if (/\p{Cs}/u.test(value)) throw invalid(what, 'must be well-formed Unicode (it has a lone surrogate)');
  return value;
}

/** A key version: a positive integer. */
export function checkVersion(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    // A version is no secret, so a wrong one is shown.
    const shown = typeof value === 'number' ? String(value) : typeOf(value);
    throw invalid(what, `must be a positive integer, not ${shown}`);
  }
  return value;
}

/** An envelope: non-empty bytes (a Buffer; any Uint8Array is viewed as one without copying). */
export function checkEnvelope(what: string, value: unknown): Buffer {
  if (!(value instanceof Uint8Array)) throw invalid(what, `must be a Buffer, not ${typeOf(value)}`);
  if (value.byteLength === 0) throw invalid(what, 'must not be empty');
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Checks the (namespace, id) pair that names an object. */
export function checkKey(namespace: unknown, id: unknown, prefix = ''): ObjectKey {
  return { namespace: checkName(`${prefix}namespace`, namespace), id: checkName(`${prefix}id`, id) };
}

/** Checks everything `put` is given. */
export function checkPut(
  object: unknown,
): ObjectKey & { keyName: string; keyVersion: number; envelope: Buffer } {
  const o = checkObject('the object to put', object);
  return {
    ...checkKey(o.namespace, o.id),
    keyName: checkName('keyName', o.keyName),
    keyVersion: checkVersion('keyVersion', o.keyVersion),
    envelope: checkEnvelope('envelope', o.envelope),
  };
}

/** Checks and normalises the arguments of `listWrappedBelow`. */
export function checkListWrappedBelow(
  keyName: unknown,
  belowVersion: unknown,
  options: { after?: { namespace: string; id: string }; limit?: number } | undefined,
): { keyName: string; belowVersion: number; after: ObjectKey | undefined; limit: number } {
  const after = options?.after;
  return {
    keyName: checkName('keyName', keyName),
    belowVersion: checkVersion('belowVersion', belowVersion),
    after:
      after === undefined ? undefined : checkKey(checkObject('after', after).namespace, after.id, 'after.'),
    limit: limitOf(options?.limit),
  };
}

/**
 * Orders keys by (namespace, id), comparing UTF-8 bytes: the order of SQLite's BINARY collation and
 * of PostgreSQL's "C" collation. (JavaScript's `<` compares UTF-16 code units, which differs for
 * characters above U+FFFF against U+E000–U+FFFF.)
 */
export function compareKeys(a: ObjectKey, b: ObjectKey): number {
  return (
    Buffer.compare(Buffer.from(a.namespace), Buffer.from(b.namespace)) ||
    Buffer.compare(Buffer.from(a.id), Buffer.from(b.id))
  );
}

/** Checks that `value` is an object whose fields can be read. */
export function checkObject(what: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null) {
    throw invalid(what, `must be an object, not ${typeOf(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Describes a rejected value without showing it. */
function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}
