import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { IssuerConfig } from '../config/index.js';
import { checkAlgorithm, classifyVerifyError, JwtRejected, type Claims } from './jwt-checks.js';

/** Where an issuer publishes its OpenID discovery document. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** Default least time between two JWKS fetches caused by unknown `kid`s. */
export const DEFAULT_JWKS_COOLDOWN_SECONDS = 30;
const JWKS_MAX_AGE_MS = 10 * 60_000;
/** After a failed discovery, requests fail fast this long instead of refetching each time. */
const DISCOVERY_RETRY_MS = 1000;

export interface RemoteKeysOptions {
  /** The exact issuer; the discovery document must name it. */
  readonly issuer: string;
  /** Skips discovery when given. */
  readonly jwksUri?: string | undefined;
  readonly timeoutMs: number;
  readonly cooldownMs: number;
  readonly now?: () => number;
}

/**
 * An issuer's signing keys: discovers jwks_uri once (the discovery document's `issuer` must match;
 * a failure is retried, at most once per second), then keeps jose's remote JWK set. jose refetches
 * on an unknown `kid` at most once per cooldown, and concurrent refetches share one request, which
 * bounds how often a stranger can make us call the issuer.
 */
export class RemoteKeys {
  readonly #options: RemoteKeysOptions;
  readonly #now: () => number;
  #jwks: Promise<JWTVerifyGetKey> | undefined;
  #failedAt = Number.NEGATIVE_INFINITY;
  #lastFailure: unknown;

  constructor(options: RemoteKeysOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The key getter for jose; rejects (not a JOSE error) when discovery fails. */
  keySet(): Promise<JWTVerifyGetKey> {
    if (!this.#jwks && this.#now() - this.#failedAt < DISCOVERY_RETRY_MS) {
      return Promise.reject(new Error('discovery failed recently', { cause: this.#lastFailure }));
    }
    this.#jwks ??= this.#discover().catch((err: unknown) => {
      this.#jwks = undefined;
      this.#failedAt = this.#now();
      this.#lastFailure = err;
      throw err;
    });
    return this.#jwks;
  }

  async #discover(): Promise<JWTVerifyGetKey> {
    const { issuer, timeoutMs, cooldownMs } = this.#options;
    let jwksUri = this.#options.jwksUri;
    if (!jwksUri) {
      const res = await fetch(discoveryUrl(issuer), {
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
        headers: { accept: 'application/json' },
      });
      if (!res.ok) throw new Error(`discovery answered ${res.status}`);
      const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
      if (doc.issuer !== issuer) throw new Error('discovery issuer does not match');
      if (typeof doc.jwks_uri !== 'string') throw new Error('discovery has no jwks_uri');
      jwksUri = doc.jwks_uri;
    }
    const url = new URL(jwksUri);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('jwks_uri is not http(s)');
    return createRemoteJWKSet(url, {
      timeoutDuration: timeoutMs,
      cooldownDuration: cooldownMs,
      cacheMaxAge: Math.max(JWKS_MAX_AGE_MS, cooldownMs),
    });
  }
}

export interface VerifyOptions {
  readonly issuer: string;
  readonly audience: string | readonly string[];
  readonly algorithms: readonly string[];
  readonly clockSkewSeconds: number;
  readonly requiredClaims: readonly string[];
  /** Seconds; when set, `iat` is required and may be at most this old. */
  readonly maxAgeSeconds?: number;
  readonly nowMs: number;
}

/**
 * Verifies a parsed compact JWS against `keys`: the algorithm is checked against the list before
 * any key lookup, then signature, `iss`, `aud`, `exp`, `nbf` (and `iat` age) by jose, and `iat`
 * not in the future. Throws JwtRejected or JwtUnverifiable.
 */
export async function verifyJws(
  token: string,
  header: Claims,
  keys: RemoteKeys,
  options: VerifyOptions,
): Promise<JWTPayload> {
  checkAlgorithm(header, options.algorithms);
  try {
    const getKey = await keys.keySet();
    const { payload } = await jwtVerify(token, getKey, {
      issuer: options.issuer,
      audience: typeof options.audience === 'string' ? options.audience : [...options.audience],
      algorithms: [...options.algorithms],
      clockTolerance: options.clockSkewSeconds,
      requiredClaims: [...options.requiredClaims],
      currentDate: new Date(options.nowMs),
      ...(options.maxAgeSeconds === undefined ? {} : { maxTokenAge: options.maxAgeSeconds }),
    });
    const iat = payload.iat;
    if (typeof iat === 'number' && iat > options.nowMs / 1000 + options.clockSkewSeconds) {
      throw new JwtRejected('iat_in_future');
    }
    return payload;
  } catch (err) {
    throw classifyVerifyError(err);
  }
}

/** One trusted OIDC issuer from config: its keys and its verification rules. */
export class TrustedIssuer {
  readonly config: IssuerConfig;
  readonly #keys: RemoteKeys;

  constructor(config: IssuerConfig, timeoutMs: number, now?: () => number) {
    this.config = config;
    this.#keys = new RemoteKeys({
      issuer: config.issuer,
      jwksUri: config.jwksUri,
      timeoutMs,
      cooldownMs: (config.jwksCooldownSeconds ?? DEFAULT_JWKS_COOLDOWN_SECONDS) * 1000,
      ...(now ? { now } : {}),
    });
  }

  /** Verifies signature, issuer, audience, algorithm and time claims (`exp` is required). */
  verify(token: string, header: Claims, nowMs: number): Promise<JWTPayload> {
    return verifyJws(token, header, this.#keys, {
      issuer: this.config.issuer,
      audience: this.config.audience,
      algorithms: this.config.algorithms,
      clockSkewSeconds: this.config.clockSkewSeconds,
      requiredClaims: ['exp'],
      nowMs,
    });
  }
}
