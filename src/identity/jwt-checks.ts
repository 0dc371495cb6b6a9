import { errors as joseErrors } from 'jose';

/**
 * Checks on a compact JWS that run before any key is looked up, shared by bearer tokens and
 * device-posture assertions. Every refusal carries a stable `reason` for the log (never the
 * token itself).
 */

/** A token refused for a reason the caller caused: 401 with `reason` in the log. */
export class JwtRejected extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.name = 'JwtRejected';
    this.reason = reason;
  }
}

/** We could not check a token (keys unreachable): 503, or `untrusted` where config says so. */
export class JwtUnverifiable extends Error {
  readonly reason: string;
  constructor(reason: string, cause?: unknown) {
    super(reason, cause === undefined ? undefined : { cause });
    this.name = 'JwtUnverifiable';
    this.reason = reason;
  }
}

export type Claims = Readonly<Record<string, unknown>>;

export interface ParsedJws {
  readonly header: Claims;
  /** The payload as the token states it, NOT yet verified: only for choosing the issuer. */
  readonly unverifiedPayload: Claims;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const SIGNATURE = /^[A-Za-z0-9_-]*$/;
/** Header parameters that point at keys or certificates: an attacker's way to choose the key. */
const KEY_REFERENCES = ['jku', 'x5u', 'jwk', 'x5c'] as const;
/** JWE, unencoded-payload, compressed and nested tokens: none is an access token we accept. */
const NOT_ALLOWED = ['enc', 'zip', 'b64', 'cty'] as const;
/** `typ` values of JWT access tokens (RFC 7519, RFC 9068); compared case-insensitively. */
const ALLOWED_TYP = new Set(['jwt', 'at+jwt', 'application/jwt', 'application/at+jwt']);
const MAX_KID = 256;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** base64url without padding, in its one canonical spelling (no malleable trailing bits). */
function decodeSegment(segment: string): Buffer {
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.toString('base64url') !== segment) throw new JwtRejected('malformed_encoding');
  return bytes;
}

function decodeJsonObject(segment: string, reason: string): Claims {
  const bytes = decodeSegment(segment);
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    throw new JwtRejected(reason);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JwtRejected(reason);
  return value as Claims;
}

/**
 * Parses a compact JWS and refuses, before any key lookup: JWEs, anything not exactly three
 * canonical base64url parts, `alg: none`, key-locating headers (`jku`, `x5u`, `jwk`, `x5c`: never
 * fetched, never used), any `crit` (we implement no extension), and non-JWT `typ` values.
 */
export function parseCompactJws(token: string): ParsedJws {
  const parts = token.split('.');
  if (parts.length === 5) throw new JwtRejected('jwe_not_accepted');
  if (parts.length !== 3) throw new JwtRejected('malformed');
  const [h, p, s] = parts as [string, string, string];
  if (!SEGMENT.test(h) || !SEGMENT.test(p) || !SIGNATURE.test(s)) throw new JwtRejected('malformed');
  const header = decodeJsonObject(h, 'malformed_header');
  const alg = header.alg;
  if (typeof alg !== 'string') throw new JwtRejected('malformed_header');
  if (alg.toLowerCase() === 'none') throw new JwtRejected('alg_none');
  if (s === '') throw new JwtRejected('malformed');
  decodeSegment(s);
  if (KEY_REFERENCES.some((name) => Object.hasOwn(header, name)))
    throw new JwtRejected('header_key_reference');
  if (Object.hasOwn(header, 'crit')) throw new JwtRejected('crit_unsupported');
  if (NOT_ALLOWED.some((name) => Object.hasOwn(header, name))) throw new JwtRejected('header_not_allowed');
  if (Object.hasOwn(header, 'typ')) {
    const typ = header.typ;
    if (typeof typ !== 'string' || !ALLOWED_TYP.has(typ.toLowerCase()))
      throw new JwtRejected('typ_not_allowed');
  }
  if (Object.hasOwn(header, 'kid')) {
    const kid = header.kid;
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID) {
      throw new JwtRejected('malformed_header');
    }
  }
  return { header, unverifiedPayload: decodeJsonObject(p, 'malformed_payload') };
}

/** Refuses a header whose `alg` is not in the list, before any key is looked up. */
export function checkAlgorithm(header: Claims, algorithms: readonly string[]): void {
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    throw new JwtRejected('alg_not_allowed');
  }
}

function claimFailure(err: joseErrors.JWTClaimValidationFailed): string {
  if (err.reason === 'missing') return `missing_claim:${err.claim}`;
  switch (err.claim) {
    case 'nbf':
      return 'not_yet_valid';
    case 'iat':
      return 'iat_in_future';
    case 'iss':
      return 'wrong_issuer';
    case 'aud':
      return 'wrong_audience';
    default:
      return `invalid_claim:${err.claim}`;
  }
}

/**
 * Turns what jose threw into a stable outcome: the token is bad (JwtRejected), or we could not
 * check it (JwtUnverifiable: keys could not be fetched or were unusable).
 */
export function classifyVerifyError(err: unknown): JwtRejected | JwtUnverifiable {
  if (err instanceof JwtRejected || err instanceof JwtUnverifiable) return err;
  if (!(err instanceof joseErrors.JOSEError)) return new JwtUnverifiable('keys_unavailable', err);
  if (err instanceof joseErrors.JWTExpired) {
    return new JwtRejected(err.claim === 'iat' ? 'too_old' : 'expired');
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) return new JwtRejected(claimFailure(err));
  switch (err.code) {
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return new JwtRejected('unknown_kid');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new JwtRejected('bad_signature');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new JwtRejected('alg_not_allowed');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return new JwtRejected('malformed');
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new JwtRejected('not_supported');
    case 'ERR_JWKS_TIMEOUT':
      return new JwtUnverifiable('jwks_timeout', err);
    case 'ERR_JWKS_INVALID':
    case 'ERR_JWK_INVALID':
      return new JwtUnverifiable('jwks_invalid', err);
    default:
      return new JwtUnverifiable('jwks_unavailable', err);
  }
}
