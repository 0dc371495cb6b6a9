import type { IssuerConfig } from '../config/index.js';
import { AuthenticationError, type Principal } from '../core/index.js';
import { checkRequiredClaims, optionalString, toPrincipal } from './claims.js';
import { JwtRejected, JwtUnverifiable, parseCompactJws } from './jwt-checks.js';
import { TrustedIssuer } from './oidc-issuer.js';
import { tokenHash, VerifiedTokenCache } from './token-cache.js';

export interface BearerOptions {
  readonly issuers: readonly IssuerConfig[];
  readonly maxTokenBytes: number;
  readonly tokenCacheSize: number;
  readonly jwksTimeoutMs: number;
  readonly now: () => number;
}

/** A verified bearer JWT: who, and the handles revocation can name it by. */
export interface VerifiedBearer {
  readonly principal: Principal;
  /** SHA-256 (hex) of the token. */
  readonly tokenHash: string;
  readonly jti?: string;
}

/** Which cached tokens to drop; every given field must match. An empty match drops nothing. */
export interface EvictMatch {
  /** A principal id (`issuer#sub`). */
  readonly subject?: string;
  readonly sessionId?: string;
  readonly tokenHash?: string;
  readonly jti?: string;
}

export interface BearerAuthenticator {
  /** Throws AuthenticationError: 401 `unauthenticated` (reason in logDetail) or 503. */
  verify(token: string): Promise<VerifiedBearer>;
  evict(match: EvictMatch): number;
}

function matches(entry: VerifiedBearer, match: EvictMatch): boolean {
  const given = Object.entries(match).filter(([, v]) => v !== undefined);
  if (given.length === 0) return false;
  return (
    (match.subject === undefined || entry.principal.id === match.subject) &&
    (match.sessionId === undefined || entry.principal.sessionId === match.sessionId) &&
    (match.tokenHash === undefined || entry.tokenHash === match.tokenHash) &&
    (match.jti === undefined || entry.jti === match.jti)
  );
}

/**
 * Bearer JWTs from the configured OIDC issuers. Before any key lookup: size, shape, encoding and
 * header checks (jwt-checks.ts), then the issuer named by `iss` must be configured, then its
 * algorithm list. Then signature and claims, required claims, claim mapping. Verified tokens are
 * cached by hash until `exp`.
 */
export function createBearerAuthenticator(options: BearerOptions): BearerAuthenticator {
  const issuers = new Map(
    options.issuers.map((c) => [c.issuer, new TrustedIssuer(c, options.jwksTimeoutMs, options.now)]),
  );
  const cache = new VerifiedTokenCache<VerifiedBearer>(options.tokenCacheSize, options.now);

  const verifyUncached = async (token: string, hash: string): Promise<VerifiedBearer> => {
    const { header, unverifiedPayload } = parseCompactJws(token);
    const claimed = unverifiedPayload.iss;
    const issuer = typeof claimed === 'string' ? issuers.get(claimed) : undefined;
    if (!issuer) throw new JwtRejected('untrusted_issuer');
    const payload = await issuer.verify(token, header, options.now());
    checkRequiredClaims(payload, issuer.config);
    const principal = toPrincipal(payload, issuer.config);
    const jti = optionalString(payload.jti, 'jti');
    const verified: VerifiedBearer = { principal, tokenHash: hash, ...(jti === undefined ? {} : { jti }) };
    cache.set(hash, verified, (payload.exp as number) * 1000);
    return verified;
  };

  return {
    async verify(token) {
      if (token.length > options.maxTokenBytes) {
        throw new AuthenticationError('unauthenticated', { logDetail: 'token_too_large' });
      }
      const hash = tokenHash(token);
      const cached = cache.get(hash);
      if (cached) return cached;
      try {
        return await verifyUncached(token, hash);
      } catch (err) {
        if (err instanceof JwtRejected) {
          throw new AuthenticationError('unauthenticated', { logDetail: err.reason });
        }
        if (err instanceof JwtUnverifiable) {
          throw new AuthenticationError('authentication_unavailable', {
            logDetail: err.reason,
            cause: err.cause,
          });
        }
        throw err;
      }
    },
    evict: (match) => cache.evict((entry) => matches(entry, match)),
  };
}
