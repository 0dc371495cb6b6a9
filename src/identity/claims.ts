import type { IssuerConfig } from '../config/index.js';
import type { AttributeValue, Principal } from '../core/index.js';
import { JwtRejected, type Claims } from './jwt-checks.js';

/** Longest string taken from a claim into a principal or device. */
export const MAX_CLAIM_STRING = 256;
/** Most items taken from a list claim (roles, groups). A longer list refuses the token. */
export const MAX_CLAIM_LIST = 256;

/**
 * A claim by name, or by dotted path into nested objects (`realm_access.roles`). An exact
 * top-level name wins, so URL-named claims (`https://example.com/roles`) work too. Own properties
 * only: `__proto__` and friends are never followed.
 */
export function claimAt(claims: Claims, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  if (!path.includes('.')) return undefined;
  let node: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, part)) {
      return undefined;
    }
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

/** A non-empty string of at most 256 characters without control characters, or a refusal. */
export function boundedString(value: unknown, name: string): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_CLAIM_STRING ||
    hasControlCharacter(value)
  ) {
    throw new JwtRejected(`invalid_claim:${name}`);
  }
  return value;
}

/** Absent → undefined; present → a bounded string, or a refusal. */
export function optionalString(value: unknown, name: string): string | undefined {
  return present(value) ? boundedString(value, name) : undefined;
}

/** A list claim: an array of strings, or one space- or comma-separated string; ≤ 256 items. */
function stringList(value: unknown, name: string): readonly string[] {
  if (!present(value)) return [];
  const items = typeof value === 'string' ? value.split(/[\s,]+/).filter(Boolean) : value;
  if (!Array.isArray(items) || items.length > MAX_CLAIM_LIST) throw new JwtRejected(`invalid_claim:${name}`);
  return [...new Set(items.map((item: unknown) => boundedString(item, name)))];
}

/** A clearance is a level name or a non-negative integer level. */
function clearanceValue(value: unknown): string | number | undefined {
  if (!present(value)) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  return boundedString(value, 'clearance');
}

function subjectPath(config: IssuerConfig): string {
  return config.claims?.subject ?? 'sub';
}

/**
 * Refuses a token that lacks a required claim (`exp` is checked by the verifier; the subject
 * claim and `requiredClaims` here) or whose `requiredClaimValues` differ.
 */
export function checkRequiredClaims(payload: Claims, config: IssuerConfig): void {
  for (const path of [subjectPath(config), ...(config.requiredClaims ?? [])]) {
    if (!present(claimAt(payload, path))) throw new JwtRejected(`missing_claim:${path}`);
  }
  for (const [path, expected] of Object.entries(config.requiredClaimValues ?? {})) {
    const actual = claimAt(payload, path);
    if (!present(actual)) throw new JwtRejected(`missing_claim:${path}`);
    if (actual !== expected) throw new JwtRejected(`claim_mismatch:${path}`);
  }
}

/** True when config marks this token as a client-credentials (no user) token. */
function isServiceToken(payload: Claims, config: IssuerConfig): boolean {
  const rule = config.serviceClaim;
  if (!rule) return false;
  const value = claimAt(payload, rule.claim);
  if (rule.values) return typeof value === 'string' && rule.values.includes(value);
  return present(value) && value !== false && value !== '';
}

/**
 * Maps verified claims to a Principal by the issuer's claim mapping. Every value is validated and
 * bounded; a mapped claim of the wrong type or size refuses the token (`invalid_claim:<attribute>`)
 * rather than being dropped, so a policy never sees a silently truncated list.
 */
export function toPrincipal(payload: Claims, config: IssuerConfig): Principal {
  const mapping = config.claims;
  const subject = boundedString(claimAt(payload, subjectPath(config)), 'subject');
  const email = optionalString(claimAt(payload, mapping?.email ?? 'email'), 'email');
  const sessionId = optionalString(payload.sid, 'sid');
  const attributes: Record<string, AttributeValue> = {};
  const department = mapping?.department
    ? optionalString(claimAt(payload, mapping.department), 'department')
    : undefined;
  if (department !== undefined) attributes.department = department;
  const clearance = mapping?.clearance ? clearanceValue(claimAt(payload, mapping.clearance)) : undefined;
  if (clearance !== undefined) attributes.clearance = clearance;
  const homeRegion = mapping?.homeRegion
    ? optionalString(claimAt(payload, mapping.homeRegion), 'homeRegion')
    : undefined;
  if (homeRegion !== undefined) attributes.homeRegion = homeRegion;
  const workspace = mapping?.workspace
    ? optionalString(claimAt(payload, mapping.workspace), 'workspace')
    : undefined;
  if (workspace !== undefined) attributes.workspace = workspace;
  return {
    kind: isServiceToken(payload, config) ? 'service' : 'user',
    id: `${config.issuer}#${subject}`,
    issuer: config.issuer,
    subject,
    authMethod: 'oidc',
    roles: stringList(claimAt(payload, mapping?.roles ?? config.rolesClaim), 'roles'),
    groups: stringList(claimAt(payload, mapping?.groups ?? config.groupsClaim), 'groups'),
    ...(email === undefined ? {} : { email }),
    ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp } : {}),
    ...(sessionId === undefined ? {} : { sessionId }),
    attributes,
  };
}
