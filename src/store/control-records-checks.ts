import { limitOf } from './shared.js';
import type { ControlRecord, ControlRecordQuery } from './types.js';

// Errors name the argument and what is wrong with it, never its value: a subject or a body may
// name a person.
function invalid(what: string, problem: string): TypeError {
  return new TypeError(`control records: ${what} ${problem}`);
}

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Printable: no control characters (C0, DEL, C1), no line or paragraph separators, no lone surrogates. */
const SUBJECT = /^[^\p{Cc}\p{Cs}\p{Zl}\p{Zp}]+$/u;
/** `Date.prototype.toISOString` form (years 0000-9999), which orders correctly as text. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Longest subject, in UTF-16 code units. */
export const MAX_CONTROL_RECORD_SUBJECT_LENGTH = 512;
/** Largest body, in bytes of its UTF-8 JSON serialisation. */
export const MAX_CONTROL_RECORD_BODY_BYTES = 64 * 1024;

function checkPattern(what: string, value: unknown, pattern: RegExp, shape: string): string {
  if (typeof value !== 'string') throw invalid(what, `must be a string, not ${typeOf(value)}`);
  // Length first, so that the pattern never runs over something huge.
  if (value.length > 200 || !pattern.test(value)) throw invalid(what, `must be ${shape}`);
  return value;
}

/** A namespace or a status: 1-32 characters of a-z, 0-9, "_" and "-", starting with a letter. */
export function checkRecordName(what: string, value: unknown): string {
  return checkPattern(what, value, NAME, '1-32 characters of a-z, 0-9, "_" and "-", starting with a-z');
}

export function checkRecordId(what: string, value: unknown): string {
  return checkPattern(what, value, ID, '1-128 characters of A-Z, a-z, 0-9, ".", "_", ":" and "-"');
}

export function checkRecordTime(what: string, value: unknown): string {
  checkPattern(what, value, ISO_TIME, 'an ISO-8601 time such as 2025-01-01T00:00:00.000Z');
  const text = value as string;
  if (Number.isNaN(Date.parse(text)) || new Date(text).toISOString() !== text) {
    throw invalid(what, 'must be a valid ISO-8601 time');
  }
  return text;
}

export function checkSubject(what: string, value: unknown): string {
  if (typeof value !== 'string') throw invalid(what, `must be a string, not ${typeOf(value)}`);
  if (value.length > MAX_CONTROL_RECORD_SUBJECT_LENGTH) {
    throw new RangeError(
      `control records: ${what} must be at most ${MAX_CONTROL_RECORD_SUBJECT_LENGTH} characters (it has ${value.length})`,
    );
  }
  if (!SUBJECT.test(value)) throw invalid(what, 'must be non-empty printable text');
  return value;
}

/** A compare-and-set version: a positive integer. */
export function checkExpectedVersion(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    // A version is no secret, so a wrong one is shown.
    const shown = typeof value === 'number' ? String(value) : typeOf(value);
    throw invalid(what, `must be a positive integer, not ${shown}`);
  }
  return value;
}

/**
 * Serialises a body: a plain JSON object (not an array, not a class instance) of at most 64 KiB
 * as UTF-8 JSON. The serialisation is what is stored, and what `get` parses back.
 */
export function serialiseBody(what: string, value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(what, `must be a JSON object, not ${Array.isArray(value) ? 'an array' : typeOf(value)}`);
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw invalid(what, `must be a plain JSON object, not ${typeOf(value)}`);
  }
  let text: unknown;
  try {
    text = JSON.stringify(value);
  } catch {
    // BigInt, cycles, a throwing toJSON, nesting deeper than the stack.
    throw invalid(what, 'must be serialisable as JSON');
  }
  if (typeof text !== 'string' || !text.startsWith('{'))
    throw invalid(what, 'must serialise to a JSON object');
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONTROL_RECORD_BODY_BYTES) {
    throw new RangeError(
      `control records: ${what} must be at most ${MAX_CONTROL_RECORD_BODY_BYTES} bytes as JSON (it has ${bytes})`,
    );
  }
  return text;
}

/** What `create` stores, checked, with the body serialised. */
export interface NewControlRecordRow {
  readonly namespace: string;
  readonly id: string;
  readonly status: string;
  readonly subject: string | null;
  readonly createdAt: string;
  readonly body: string;
}

/** Checks everything `create` is given. */
export function checkNewControlRecord(value: unknown): NewControlRecordRow {
  const o = checkObject('the record to create', value);
  return {
    namespace: checkRecordName('namespace', o.namespace),
    id: checkRecordId('id', o.id),
    status: checkRecordName('status', o.status),
    subject: o.subject === null ? null : checkSubject('subject', o.subject),
    createdAt: checkRecordTime('createdAt', o.createdAt),
    body: serialiseBody('body', o.body),
  };
}

/** Checks the arguments of `update`. */
export function checkControlRecordUpdate(
  namespace: unknown,
  id: unknown,
  expectedVersion: unknown,
  next: unknown,
): {
  namespace: string;
  id: string;
  expectedVersion: number;
  status: string;
  body: string;
  updatedAt: string;
} {
  const n = checkObject('next', next);
  return {
    namespace: checkRecordName('namespace', namespace),
    id: checkRecordId('id', id),
    expectedVersion: checkExpectedVersion('expectedVersion', expectedVersion),
    status: checkRecordName('next.status', n.status),
    body: serialiseBody('next.body', n.body),
    updatedAt: checkRecordTime('next.updatedAt', n.updatedAt),
  };
}

/**
 * A string that sorts after every valid time (they start with a digit), so that a first page
 * needs no statement of its own: `(created_at, id) < (AFTER_EVERY_TIME, '')` holds for every row.
 */
const AFTER_EVERY_TIME = '~';

/** Checks and normalises the arguments of `list`. */
export function checkControlRecordQuery(query: unknown): {
  namespace: string;
  status: string | undefined;
  subject: string | undefined;
  before: { createdAt: string; id: string };
  limit: number;
} {
  const q = checkObject('query', query) as Partial<ControlRecordQuery>;
  const before = q.before === undefined ? undefined : checkObject('query.before', q.before);
  return {
    namespace: checkRecordName('query.namespace', q.namespace),
    status: q.status === undefined ? undefined : checkRecordName('query.status', q.status),
    subject: q.subject === undefined ? undefined : checkSubject('query.subject', q.subject),
    before:
      before === undefined
        ? { createdAt: AFTER_EVERY_TIME, id: '' }
        : {
            createdAt: checkRecordTime('query.before.createdAt', before.createdAt),
            id: checkRecordId('query.before.id', before.id),
          },
    limit: limitOf(q.limit),
  };
}

/** A stored row as both databases return it (times and body as text). */
export interface ControlRecordRow {
  namespace: string;
  id: string;
  status: string;
  subject: string | null;
  created_at: string;
  updated_at: string;
  version: number | string;
  body: string;
}

export const CONTROL_RECORD_COLUMNS = 'namespace, id, status, subject, created_at, updated_at, version, body';

/** Which filters a `list` applies besides the namespace; each has a statement of its own. */
export type ListFilter = 'all' | 'status' | 'subject' | 'both';

export const LIST_FILTERS: readonly ListFilter[] = ['all', 'status', 'subject', 'both'];

/**
 * The statement of `list` for `filter`, with `?` placeholders (PostgreSQL's `$n` when `numbered`)
 * taking, in order, the parameters {@link listParams} returns. The row-value cursor and the order
 * follow the (namespace, status, created_at desc, id desc) index.
 */
export function listSql(filter: ListFilter, numbered: boolean): string {
  const where = [
    'namespace = ?',
    ...(filter === 'status' || filter === 'both' ? ['status = ?'] : []),
    ...(filter === 'subject' || filter === 'both' ? ['subject = ?'] : []),
    '(created_at, id) < (?, ?)',
  ].join(' and ');
  const text = `select ${CONTROL_RECORD_COLUMNS} from control_records where ${where}
    order by created_at desc, id desc limit ?`;
  let n = 0;
  return numbered ? text.replace(/\?/g, () => `$${++n}`) : text;
}

/** The filter and the parameters of a checked `list` query. */
export function listParams(q: ReturnType<typeof checkControlRecordQuery>): {
  filter: ListFilter;
  params: [string, ...(string | number)[]];
} {
  const filter: ListFilter =
    q.status === undefined
      ? q.subject === undefined
        ? 'all'
        : 'subject'
      : q.subject === undefined
        ? 'status'
        : 'both';
  return {
    filter,
    params: [
      q.namespace,
      ...(q.status === undefined ? [] : [q.status]),
      ...(q.subject === undefined ? [] : [q.subject]),
      q.before.createdAt,
      q.before.id,
      q.limit,
    ],
  };
}

export function controlRecordOf(row: ControlRecordRow): ControlRecord {
  const body: unknown = JSON.parse(row.body);
  return {
    namespace: row.namespace,
    id: row.id,
    status: row.status,
    subject: row.subject,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: Number(row.version),
    // Only objects are stored (serialiseBody), so anything else means the row was edited by hand.
    body:
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? (body as Record<string, unknown>)
        : {},
  };
}

/** Checks that `value` is an object whose fields can be read. */
function checkObject(what: string, value: unknown): Record<string, unknown> {
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
