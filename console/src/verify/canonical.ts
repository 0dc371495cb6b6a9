// RFC 8785 (JCS) canonical JSON of parsed JSON data, as src/ledger/canonical-json.ts writes it:
// members sorted by UTF-16 code units, numbers and strings as ECMAScript's JSON.stringify.

export class CanonicalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CanonicalError';
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The canonical text of a JSON value; throws CanonicalError for what JSON cannot hold. */
export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > 256) throw new CanonicalError('nested too deep');
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new CanonicalError('a non-finite number');
    return JSON.stringify(value);
  }
  if (typeof value === 'string') return canonicalString(value);
  if (Array.isArray(value))
    return `[${value.map((item: unknown) => canonicalJson(item, depth + 1)).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .sort()
      .map((key) => `${canonicalString(key)}:${canonicalJson(record[key], depth + 1)}`);
    return `{${members.join(',')}}`;
  }
  throw new CanonicalError(`a ${typeof value} has no JSON form`);
}

function canonicalString(s: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalError('an unpaired surrogate');
  return JSON.stringify(s);
}
