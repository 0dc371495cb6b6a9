import { createHash } from 'node:crypto';
import { decodeJwt, errors as joseErrors, type JWTPayload } from 'jose';
import type { IssuerConfig } from '../config/index.js';
import { AuthenticationError, type AuthenticateStage, type Principal } from '../core/index.js';
import { TrustedIssuer } from './oidc-issuer.js';
import { VerifiedTokenCache } from './token-cache.js';

export interface AuthenticatorOptions {
  readonly issuers: readonly IssuerConfig[];
  readonly maxTokenBytes: number;
  readonly tokenCacheSize: number;
  readonly jwksTimeoutMs: number;
  readonly now?: () => number;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** jose failures that mean "we could not check", not "the token is bad". */
const UNAVAILABLE_CODES = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JOSE_GENERIC']);

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function toPrincipal(payload: JWTPayload, issuer: IssuerConfig): Principal {
  const sub = payload.sub as string;
  const email = typeof payload.email === 'string' ? payload.email : undefined;
  return {
    kind: 'user',
    id: `${issuer.issuer}#${sub}`,
    issuer: issuer.issuer,
    subject: sub,
    authMethod: 'oidc',
    roles: stringList(payload[issuer.rolesClaim]),
    groups: stringList(payload[issuer.groupsClaim]),
    ...(email === undefined ? {} : { email }),
    ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp } : {}),
    ...(typeof payload.sid === 'string' ? { sessionId: payload.sid } : {}),
    attributes: {},
  };
}

/**
 * The authenticate stage: accepts bearer JWTs from the configured OIDC issuers only and rejects
 * everything else with 401 `unauthenticated`. Verified tokens are cached by their hash until
 * they expire. If an issuer's keys cannot be fetched the request is refused with 503.
 */
export function createAuthenticator(options: AuthenticatorOptions): AuthenticateStage {
  const now = options.now ?? Date.now;
  const issuers = new Map(
    options.issuers.map((c) => [c.issuer, new TrustedIssuer(c, options.jwksTimeoutMs)]),
  );
  const cache = new VerifiedTokenCache(options.tokenCacheSize, now);

  return async ({ credentials }) => {
    const token = credentials.bearer;
    if (!token) throw new AuthenticationError('unauthenticated', { logDetail: 'no bearer token' });
    if (token.length > options.maxTokenBytes) {
      throw new AuthenticationError('unauthenticated', { logDetail: 'token too large' });
    }
    if (!JWT_SHAPE.test(token)) throw new AuthenticationError('unauthenticated', { logDetail: 'not a JWT' });

    const key = createHash('sha256').update(token).digest('base64url');
    const cached = cache.get(key);
    if (cached) return { principal: cached };

    let claimedIssuer: unknown;
    try {
      claimedIssuer = decodeJwt(token).iss;
    } catch {
      throw new AuthenticationError('unauthenticated', { logDetail: 'undecodable JWT' });
    }
    const issuer = typeof claimedIssuer === 'string' ? issuers.get(claimedIssuer) : undefined;
    if (!issuer) throw new AuthenticationError('unauthenticated', { logDetail: 'untrusted issuer' });

    let payload: JWTPayload;
    try {
      payload = await issuer.verify(token);
    } catch (err) {
      const code = err instanceof joseErrors.JOSEError ? err.code : 'ERR_UNKNOWN';
      if (err instanceof joseErrors.JOSEError && !UNAVAILABLE_CODES.has(code)) {
        throw new AuthenticationError('unauthenticated', { logDetail: code });
      }
      throw new AuthenticationError('authentication_unavailable', { logDetail: code, cause: err });
    }
    const principal = toPrincipal(payload, issuer.config);
    const expiresAtMs = typeof payload.exp === 'number' ? payload.exp * 1000 : now();
    cache.set(key, principal, expiresAtMs);
    return { principal };
  };
}
