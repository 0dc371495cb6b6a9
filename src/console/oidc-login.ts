// The console's OpenID Connect relying party: authorization code flow with PKCE (S256), state and
// nonce, run entirely on the server (backend-for-frontend). The browser sees the authorization
// request and the code; tokens are exchanged, verified and dropped here, and never leave.
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { IssuerConfig } from '../config/index.js';
import { discoveryUrl } from '../identity/index.js';
import { checkRequiredClaims, toPrincipal } from '../identity/claims.js';
import type { Principal } from '../core/index.js';

/** The scopes the console asks for. */
export const CONSOLE_SCOPE = 'openid profile email roles';
const MAX_RESPONSE_BYTES = 256 * 1024;
const DISCOVERY_RETRY_MS = 1000;

/** Why a sign-in failed: logged, never shown to the browser. */
export class SigninError extends Error {
  constructor(readonly code: string) {
    super(code);
    this.name = 'SigninError';
  }
}

interface Discovery {
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly jwks: JWTVerifyGetKey;
}

export interface OidcLoginOptions {
  readonly issuer: IssuerConfig;
  readonly clientId: string;
  /** Confidential client: client_secret_basic. Unset: a public client (`token_endpoint_auth_method: none`). */
  readonly clientSecret?: string | undefined;
  readonly timeoutMs: number;
}

/** The S256 code challenge of a verifier (RFC 7636). */
export function codeChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

export class OidcLogin {
  readonly #o: OidcLoginOptions;
  #discovery: Promise<Discovery> | undefined;
  #failedAt = Number.NEGATIVE_INFINITY;

  constructor(options: OidcLoginOptions) {
    this.#o = options;
  }

  get issuer(): string {
    return this.#o.issuer.issuer;
  }

  /** The URL to send the browser to. */
  async authorizationUrl(p: {
    state: string;
    nonce: string;
    codeVerifier: string;
    redirectUri: string;
  }): Promise<string> {
    const { authorizationEndpoint } = await this.#discover();
    const url = new URL(authorizationEndpoint);
    const params: Record<string, string> = {
      response_type: 'code',
      client_id: this.#o.clientId,
      redirect_uri: p.redirectUri,
      scope: CONSOLE_SCOPE,
      state: p.state,
      nonce: p.nonce,
      code_challenge: codeChallenge(p.codeVerifier),
      code_challenge_method: 'S256',
    };
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    return url.href;
  }

  /**
   * Exchanges the code, verifies the ID token (signature, issuer, audience, expiry, nonce, the
   * issuer's algorithms and required claims) and maps it to a principal like the data plane does.
   */
  async complete(p: {
    code: string;
    codeVerifier: string;
    redirectUri: string;
    nonce: string;
  }): Promise<{ principal: Principal; name: string | undefined }> {
    const { tokenEndpoint, jwks } = await this.#discover();
    const idToken = await this.#exchange(tokenEndpoint, p);
    const issuer = this.#o.issuer;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, jwks, {
        issuer: issuer.issuer,
        audience: this.#o.clientId,
        algorithms: [...issuer.algorithms],
        clockTolerance: issuer.clockSkewSeconds,
        requiredClaims: ['exp', 'iat', 'nonce'],
      }));
    } catch (err) {
      throw new SigninError(`id_token_invalid:${(err as { code?: unknown }).code ?? 'error'}`);
    }
    if (typeof payload.nonce !== 'string' || payload.nonce !== p.nonce)
      throw new SigninError('nonce_mismatch');
    // OIDC Core 3.1.3.7: with several audiences, azp must name this client; when present it must anyway.
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if ((audiences.length > 1 || payload.azp !== undefined) && payload.azp !== this.#o.clientId) {
      throw new SigninError('azp_mismatch');
    }
    try {
      checkRequiredClaims(payload, issuer);
      const principal = toPrincipal(payload, issuer);
      const name = typeof payload.name === 'string' && payload.name.length <= 256 ? payload.name : undefined;
      return { principal, name };
    } catch (err) {
      throw new SigninError(`claims_invalid:${err instanceof Error ? err.message : 'error'}`);
    }
  }

  async #exchange(
    tokenEndpoint: string,
    p: { code: string; codeVerifier: string; redirectUri: string },
  ): Promise<string> {
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code: p.code,
      redirect_uri: p.redirectUri,
      code_verifier: p.codeVerifier,
    });
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
    };
    if (this.#o.clientSecret === undefined) {
      body.set('client_id', this.#o.clientId);
    } else {
      // RFC 6749 section 2.3.1: both parts form-urlencoded before base64.
      const user = `${formEncode(this.#o.clientId)}:${formEncode(this.#o.clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(user).toString('base64')}`;
    }
    let res: Response;
    try {
      res = await fetch(tokenEndpoint, {
        method: 'POST',
        headers,
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
    } catch {
      throw new SigninError('token_endpoint_unreachable');
    }
    const json = await readJson(res);
    // The provider's error text is for the log at most; its code is enough.
    if (!res.ok) throw new SigninError(`token_error:${safeCode(json?.error)}`);
    const idToken = json?.id_token;
    if (typeof idToken !== 'string' || idToken.length === 0) throw new SigninError('no_id_token');
    return idToken;
  }

  #discover(): Promise<Discovery> {
    if (!this.#discovery && Date.now() - this.#failedAt < DISCOVERY_RETRY_MS) {
      return Promise.reject(new SigninError('discovery_failed'));
    }
    this.#discovery ??= this.#fetchDiscovery().catch((err: unknown) => {
      this.#discovery = undefined;
      this.#failedAt = Date.now();
      throw err instanceof SigninError ? err : new SigninError('discovery_failed');
    });
    return this.#discovery;
  }

  async #fetchDiscovery(): Promise<Discovery> {
    const issuer = this.#o.issuer;
    const res = await fetch(discoveryUrl(issuer.issuer), {
      signal: AbortSignal.timeout(this.#o.timeoutMs),
      redirect: 'error',
      headers: { accept: 'application/json' },
    });
    const doc = await readJson(res);
    if (!res.ok || !doc) throw new SigninError('discovery_failed');
    if (doc.issuer !== issuer.issuer) throw new SigninError('discovery_issuer_mismatch');
    const authorizationEndpoint = httpUrl(doc.authorization_endpoint);
    const tokenEndpoint = httpUrl(doc.token_endpoint);
    const jwksUri = issuer.jwksUri ?? httpUrl(doc.jwks_uri);
    if (!authorizationEndpoint || !tokenEndpoint || !jwksUri) throw new SigninError('discovery_incomplete');
    const methods = doc.code_challenge_methods_supported;
    if (Array.isArray(methods) && !methods.includes('S256')) throw new SigninError('pkce_s256_unsupported');
    const jwks = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: this.#o.timeoutMs,
      cooldownDuration: (issuer.jwksCooldownSeconds ?? 30) * 1000,
    });
    return { authorizationEndpoint, tokenEndpoint, jwks };
  }
}

async function readJson(res: Response): Promise<Record<string, unknown> | undefined> {
  try {
    const text = await res.text();
    if (text.length > MAX_RESPONSE_BYTES) return undefined;
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || !URL.canParse(value)) return undefined;
  const { protocol } = new URL(value);
  return protocol === 'https:' || protocol === 'http:' ? value : undefined;
}

function safeCode(value: unknown): string {
  return typeof value === 'string' && /^[a-z_]{1,64}$/.test(value) ? value : 'unknown';
}

function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}
