import { randomBytes } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, exportSPKI, generateKeyPair, type JWK } from 'jose';
import Provider, { errors } from 'oidc-provider';
import type { AccessToken, ClientCredentials, Configuration } from 'oidc-provider';

/**
 * A real OpenID provider (oidc-provider) on loopback for identity tests. It counts the requests
 * it receives by path (to prove JWKS fetches are rate-bounded), issues JWT access tokens for any
 * user with any extra claims (a custom grant), and client-credentials tokens (`idtyp: app`, as
 * Entra marks app-only tokens).
 */
export interface TestOidcProvider {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly audience: string;
  /** The signing key's private half (for tests that forge with the real key) and public forms. */
  readonly key: {
    readonly kid: string;
    readonly alg: 'ES256';
    readonly privateKey: SigningKey;
    readonly publicJwk: JWK;
    readonly publicPem: string;
  };
  /** Requests seen for this path (`/jwks`, `/.well-known/openid-configuration`, …). */
  hits(path: string): number;
  /** When (Date.now()) each request for this path arrived. */
  hitTimes(path: string): readonly number[];
  userToken(user: string, claims?: Readonly<Record<string, unknown>>): Promise<string>;
  serviceToken(): Promise<string>;
  close(): Promise<void>;
}

/** jose's key type (the global CryptoKey is not in this project's lib). */
export type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

const USER_GRANT = 'urn:ztgate:test:grant-type:user';
const CLIENT_ID = 'test-client';

export async function startTestOidcProvider(
  options: { audience?: string; ttlSeconds?: number } = {},
): Promise<TestOidcProvider> {
  const audience = options.audience ?? 'api://ztgate';
  const ttl = options.ttlSeconds ?? 600;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const secret = randomBytes(24).toString('base64url');

  const times = new Map<string, number[]>();
  // Set once the provider exists (its issuer URL needs the bound port first).
  const route: { handler?: RequestListener } = {};
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    times.set(path, [...(times.get(path) ?? []), Date.now()]);
    if (route.handler) return route.handler(req, res);
    res.statusCode = 503;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const resourceServer = {
    scope: 'invoke',
    audience,
    accessTokenTTL: ttl,
    accessTokenFormat: 'jwt' as const,
    jwt: { sign: { alg: 'ES256' as const, kid } },
  };
  const claimsByToken = new WeakMap<object, Readonly<Record<string, unknown>>>();
  const configuration: Configuration = {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: secret,
        grant_types: [USER_GRANT, 'client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...privateJwk, kid, alg: 'ES256', use: 'sig' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    extraTokenClaims: (_ctx, token: AccessToken | ClientCredentials) =>
      token.kind === 'AccessToken'
        ? { ...claimsByToken.get(token) }
        : { idtyp: 'app', roles: ['svc.invoke'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== audience) throw new errors.InvalidTarget();
          return resourceServer;
        },
      },
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.registerGrantType(
    USER_GRANT,
    async (ctx) => {
      const { client, params } = ctx.oidc;
      const user = String(params.user);
      const claims = JSON.parse(String(params.claims ?? '{}')) as Record<string, unknown>;
      const grant = new provider.Grant({ accountId: user, clientId: client.clientId });
      const token = new provider.AccessToken({
        client,
        accountId: user,
        grantId: await grant.save(),
        gty: USER_GRANT,
        resourceServer: new provider.ResourceServer(audience, resourceServer),
      });
      claimsByToken.set(token, claims);
      ctx.oidc.entity('AccessToken', token);
      ctx.body = { access_token: await token.save(), expires_in: token.expiration, token_type: 'Bearer' };
    },
    ['user', 'claims'],
  );
  route.handler = provider.callback();

  const tokenRequest = async (body: Record<string, string>): Promise<string> => {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(body),
    });
    const json = (await res.json()) as { access_token?: string; error?: string };
    if (!json.access_token) throw new Error(`token request failed: ${json.error ?? res.status}`);
    return json.access_token;
  };

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    audience,
    key: { kid, alg: 'ES256', privateKey, publicJwk, publicPem: await exportSPKI(publicKey) },
    hits: (path) => times.get(path)?.length ?? 0,
    hitTimes: (path) => times.get(path) ?? [],
    userToken: (user, claims = {}) =>
      tokenRequest({ grant_type: USER_GRANT, user, claims: JSON.stringify(claims) }),
    serviceToken: () => tokenRequest({ grant_type: 'client_credentials', resource: audience }),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
