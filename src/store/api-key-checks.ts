import { checkObject, limitOf } from './shared.js';
import type { ApiKeyQuery, ApiKeyRecord, NewApiKey } from './types.js';

// Errors name the argument and what is wrong with it, never its value: a hash is no secret, but
// a caller that mixed up arguments could pass one.
function invalid(what: string, problem: string): TypeError {
  return new TypeError(`api keys: ${what} ${problem}`);
}

const ID = /^[a-z0-9]{1,64}$/;
const SERVICE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const SCOPE = /^[a-z0-9][a-z0-9:._*-]{0,63}$/;
const HASH = /^[a-z0-9]{1,16}:[A-Za-z0-9_-]{16,128}$/;
/** `Date.prototype.toISOString` form (years 0000-9999), which orders correctly as text. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const MAX_SCOPES = 32;

function checkPattern(what: string, value: unknown, pattern: RegExp, shape: string): string {
  if (typeof value !== 'string') throw invalid(what, `must be a string, not ${typeof value}`);
  // Length first, so that the pattern never runs over something huge.
  if (value.length > 200 || !pattern.test(value)) throw invalid(what, `must be ${shape}`);
  return value;
}

export function checkApiKeyId(what: string, value: unknown): string {
  return checkPattern(what, value, ID, '1-64 characters of a-z and 0-9');
}

export function checkService(what: string, value: unknown): string {
  return checkPattern(what, value, SERVICE, '1-64 characters of a-z, 0-9, ".", "_" and "-"');
}

export function checkTime(what: string, value: unknown): string {
  checkPattern(what, value, ISO_TIME, 'an ISO-8601 time such as 2025-01-01T00:00:00.000Z');
  const text = value as string;
  if (Number.isNaN(Date.parse(text)) || new Date(text).toISOString() !== text) {
    throw invalid(what, 'must be a valid ISO-8601 time');
  }
  return text;
}

export function checkScopes(what: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw invalid(what, 'must be an array of strings');
  if (value.length > MAX_SCOPES) throw invalid(what, `must have at most ${MAX_SCOPES} entries`);
  return value.map((scope: unknown, i) =>
    checkPattern(`${what}[${i}]`, scope, SCOPE, '1-64 characters of a-z, 0-9, ":", ".", "_", "*" and "-"'),
  );
}

/** Checks everything `create` is given. */
export function checkNewApiKey(value: unknown): NewApiKey {
  const o = checkObject('the key to create', value);
  return {
    id: checkApiKeyId('id', o.id),
    service: checkService('service', o.service),
    scopes: checkScopes('scopes', o.scopes),
    hash: checkPattern('hash', o.hash, HASH, 'a "<scheme>:<digest>" string'),
    createdAt: checkTime('createdAt', o.createdAt),
    expiresAt: o.expiresAt === null ? null : checkTime('expiresAt', o.expiresAt),
  };
}

/** Checks and normalises the arguments of `list`. */
export function checkApiKeyQuery(query: ApiKeyQuery | undefined): {
  service: string | undefined;
  after: string;
  limit: number;
} {
  const q = query === undefined ? {} : (checkObject('query', query) as ApiKeyQuery);
  return {
    service: q.service === undefined ? undefined : checkService('query.service', q.service),
    // Valid ids are non-empty, so every stored id sorts after ''.
    after: q.after === undefined ? '' : checkApiKeyId('query.after', q.after),
    limit: limitOf(q.limit),
  };
}

/** A stored row as both databases return it (times as text, scopes as JSON text). */
export interface ApiKeyRow {
  id: string;
  service: string;
  scopes: string;
  hash: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

export const API_KEY_COLUMNS = 'id, service, scopes, hash, created_at, expires_at, revoked_at, last_used_at';

export function apiKeyOf(row: ApiKeyRow): ApiKeyRecord {
  const scopes: unknown = JSON.parse(row.scopes);
  return {
    id: row.id,
    service: row.service,
    scopes: Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : [],
    hash: row.hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}
