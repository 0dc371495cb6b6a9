import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { IssuerConfig } from '../config/index.js';

/** Where an issuer publishes its OpenID discovery document. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/**
 * One trusted OIDC issuer: discovers its jwks_uri once (retrying after a failure), and verifies
 * tokens against its keys. jose's remote JWK set refetches on an unknown `kid` at most once per
 * cooldown, which bounds the rate at which a stranger can make us call the issuer.
 */
export class TrustedIssuer {
  readonly config: IssuerConfig;
  readonly #timeoutMs: number;
  #jwks: Promise<JWTVerifyGetKey> | undefined;

  constructor(config: IssuerConfig, timeoutMs: number) {
    this.config = config;
    this.#timeoutMs = timeoutMs;
  }

  #keySet(): Promise<JWTVerifyGetKey> {
    this.#jwks ??= this.#discover().catch((err: unknown) => {
      this.#jwks = undefined;
      throw err;
    });
    return this.#jwks;
  }

  async #discover(): Promise<JWTVerifyGetKey> {
    let jwksUri = this.config.jwksUri;
    if (!jwksUri) {
      const res = await fetch(discoveryUrl(this.config.issuer), {
        signal: AbortSignal.timeout(this.#timeoutMs),
        redirect: 'error',
      });
      if (!res.ok) throw new Error(`discovery answered ${res.status}`);
      const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
      if (doc.issuer !== this.config.issuer) throw new Error('discovery issuer does not match');
      if (typeof doc.jwks_uri !== 'string') throw new Error('discovery has no jwks_uri');
      jwksUri = doc.jwks_uri;
    }
    return createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: this.#timeoutMs,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  }

  /** Verifies signature, issuer, audience, algorithm and time claims; throws jose errors. */
  async verify(token: string): Promise<JWTPayload> {
    const keys = await this.#keySet();
    const { payload } = await jwtVerify(token, keys, {
      issuer: this.config.issuer,
      audience: this.config.audience,
      algorithms: [...this.config.algorithms],
      clockTolerance: this.config.clockSkewSeconds,
      requiredClaims: ['sub', 'exp'],
    });
    return payload;
  }
}
