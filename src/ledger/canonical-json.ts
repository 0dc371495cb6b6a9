/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the one byte form of a JSON value that ledger
 * entries are hashed and signed in.
 *
 * Serialisation is done by `canonicalize`, the reference implementation by an RFC 8785 author
 * (numbers as ECMAScript Number::toString, keys sorted by UTF-16 code units). That library
 * coerces what JSON cannot hold (drops undefined members, calls toJSON, turns undefined array items
 * into null), so the value is first copied into plain JSON data here, and anything that would be
 * lost or changed on the way is refused with a CanonicalJsonError instead.
 * INVARIANT: a value either canonicalises to exactly the data it holds, or throws.
 */
import canonicalize from 'canonicalize';

export type CanonicalJsonErrorCode =
  /** NaN or ±Infinity: JSON has no form for them. */
  | 'non_finite_number'
  /** undefined, as a value, an object member or an array item. */
  | 'undefined_value'
  /** A bigint, function or symbol, or an object that is not a plain object or array (Date, Map, Buffer, class instance). */
  | 'unsupported_type'
  /** An array with holes. */
  | 'sparse_array'
  /** A string (or key) with an unpaired UTF-16 surrogate, which has no UTF-8 form (RFC 8785 §3.2.2.2). */
  | 'lone_surrogate'
  /** An object that contains itself. */
  | 'cycle'
  /** Nested deeper than MAX_DEPTH. */
  | 'too_deep';

export class CanonicalJsonError extends Error {
  readonly code: CanonicalJsonErrorCode;
  /** Where in the value the problem is, as a JSON-pointer-like path ("" is the value itself). */
  readonly path: string;

  constructor(code: CanonicalJsonErrorCode, path: string, message: string) {
    super(`${message} at "${path}"`);
    this.name = 'CanonicalJsonError';
    this.code = code;
    this.path = path;
  }
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Deepest nesting accepted; audit entries are shallow, and the limit keeps recursion off the stack's edge. */
export const MAX_DEPTH = 256;

/** The RFC 8785 canonical JSON text of `value`. Throws CanonicalJsonError for what JSON cannot hold. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(toJsonValue(value, '', new Set(), 0));
  // Unreachable for a checked JsonValue; kept so that a library change cannot pass through silently.
  if (typeof text !== 'string') throw new CanonicalJsonError('unsupported_type', '', 'not serialisable');
  return text;
}

/** The UTF-8 bytes of canonicalJson(value): what a ledger entry's leaf hash is taken over. */
export function canonicalBytes(value: unknown): Uint8Array {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/** A plain-data copy of `value`, read once (getters run once), or a CanonicalJsonError. */
function toJsonValue(value: unknown, path: string, ancestors: Set<object>, depth: number): JsonValue {
  switch (typeof value) {
    case 'string':
      return checkedString(value, path);
    case 'number':
      if (!Number.isFinite(value))
        throw new CanonicalJsonError('non_finite_number', path, 'non-finite number');
      return value;
    case 'boolean':
      return value;
    case 'undefined':
      throw new CanonicalJsonError('undefined_value', path, 'undefined value');
    case 'object':
      if (value === null) return null;
      return copyContainer(value, path, ancestors, depth);
    default:
      throw new CanonicalJsonError('unsupported_type', path, `a ${typeof value} has no JSON form`);
  }
}

function copyContainer(value: object, path: string, ancestors: Set<object>, depth: number): JsonValue {
  if (depth >= MAX_DEPTH) throw new CanonicalJsonError('too_deep', path, `nested deeper than ${MAX_DEPTH}`);
  if (ancestors.has(value)) throw new CanonicalJsonError('cycle', path, 'the value contains itself');
  ancestors.add(value);
  const copy = Array.isArray(value)
    ? copyArray(value, path, ancestors, depth + 1)
    : copyObject(value, path, ancestors, depth + 1);
  ancestors.delete(value);
  return copy;
}

function copyArray(value: unknown[], path: string, ancestors: Set<object>, depth: number): JsonValue[] {
  const copy: JsonValue[] = [];
  for (let i = 0; i < value.length; i += 1) {
    if (!(i in value)) throw new CanonicalJsonError('sparse_array', `${path}/${i}`, 'array hole');
    copy.push(toJsonValue(value[i], `${path}/${i}`, ancestors, depth));
  }
  return copy;
}

function copyObject(value: object, path: string, ancestors: Set<object>, depth: number): JsonValue {
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new CanonicalJsonError('unsupported_type', path, 'only plain objects and arrays have a JSON form');
  }
  if (Object.getOwnPropertySymbols(value).length > 0) {
    throw new CanonicalJsonError('unsupported_type', path, 'symbol-keyed property');
  }
  const copy: { [key: string]: JsonValue } = Object.create(null) as { [key: string]: JsonValue };
  for (const key of Object.keys(value)) {
    const memberPath = `${path}/${escapePointer(key)}`;
    checkedString(key, memberPath);
    copy[key] = toJsonValue((value as Record<string, unknown>)[key], memberPath, ancestors, depth);
  }
  return copy;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkedString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) throw new CanonicalJsonError('lone_surrogate', path, 'unpaired surrogate');
  return value;
}

/** RFC 6901 escaping, so that a path names one member even when keys contain "/" or "~". */
function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
