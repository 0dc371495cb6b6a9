/**
 * DEMO ONLY. A throw-away OpenID provider that `ztgate up --demo` starts on loopback so the gateway has
 * something to verify tokens against. It vouches for whatever user name it is given: never point a real
 * deployment at it.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';
import type { AccessToken, ClientCredentials, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { demoAccount, demoClaims, parseRoles, parseUser } from './demo-accounts.js';
import { DEMO_CLIENT_ID, DEMO_GRANT_TYPE, demoClientPath, isLoopbackHost } from './token-client.js';

/** Options for {@link startDemoIssuer}. */
export interface DemoIssuerOptions {
  /** The ztgate home; key material goes to `<home>/keys`. */
  readonly home: string;
  /** Loopback address to listen on; default 127.0.0.1. Anything else is refused. */
  readonly host?: string;
  /** 0 picks any free port; the issuer URL always carries the bound one. */
  readonly port: number;
  /** The resource server (`aud`) of issued access tokens, for example `ztgate`. */
  readonly audience: string;
  /** Access token lifetime; default 3600. */
  readonly tokenTtlSeconds?: number;
  /** Receives provider-side failures; default console.warn. */
  readonly onWarn?: (msg: string) => void;
}

/** A running demo provider. */
export interface DemoIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly tokenEndpoint: string;
  readonly clientId: string;
  close(): Promise<void>;
}

const KEY_FILE = 'demo-issuer.jwks.json';
/** The security console's public client (authorization code + PKCE, no secret). */
export const DEMO_CONSOLE_CLIENT_ID = 'ztgate-console';
/**
 * The console's redirect URI. A native client's loopback redirect URI matches on any port (RFC 8252
 * section 7.3; oidc-provider 9 strips the port of both sides for `application_type: native`), so the
 * admin listener may run on any port.
 */
export const DEMO_CONSOLE_REDIRECT_URI = 'http://127.0.0.1/console/callback';

interface SigningJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly d: string;
  readonly kid: string;
  readonly alg: 'ES256';
  readonly use: 'sig';
}

interface ClientFile {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly cookieKeys: readonly string[];
}

/**
 * DEMO ONLY. Starts the demo OpenID provider (oidc-provider) on loopback.
 *
 * - Signs with an ES256 key kept in `<home>/keys/demo-issuer.jwks.json` (0600, reused, so the `kid` is stable).
 * - Has one confidential client, `ztgate-cli`, whose secret and the cookie keys live in
 *   `<home>/keys/demo-client.json` (0600).
 * - `ztgate-cli` may use the grant `urn:ztgate:params:oauth:grant-type:demo-user` to get a JWT access token for
 *   any `user` with any `roles`, no password asked.
 * - oidc-provider's development interactions stay enabled: its built-in login page accepts any user name, so a
 *   browser authorization-code + PKCE client can sign in as anyone. That is the point of a demo provider.
 * - A public client, `ztgate-console` (native, PKCE required, redirect URI `http://127.0.0.1:<any port>/console/callback`),
 *   for the security console's sign-in. Its ID tokens carry `name`, `email` and, with the scope `roles`, a
 *   `roles` claim derived from the user name: `admin…` → `ztgate-admin`, `auditor…` → `ztgate-auditor`.
 *
 * Throws if either key file is accessible by group or others.
 */
export async function startDemoIssuer(options: DemoIssuerOptions): Promise<DemoIssuer> {
  const host = options.host ?? '127.0.0.1';
  const ttl = options.tokenTtlSeconds ?? 3600;
  const warn = options.onWarn ?? ((msg: string) => console.warn(msg));
  if (!isLoopbackHost(host)) throw new Error(`demo issuer must listen on loopback, not ${host}`);
  if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new Error('tokenTtlSeconds must be a positive integer');
  if (options.audience.length === 0) throw new Error('audience must not be empty');

  const keysDir = await ensureKeysDir(options.home, warn);
  const signingKey = await loadOrCreate(join(keysDir, KEY_FILE), parseSigningKey, createSigningKey, toJwkSet);
  const client = await loadOrCreate(demoClientPath(options.home), parseClientFile, createClientFile);

  let handler: RequestListener | undefined;
  const server = createServer((req, res) => {
    if (handler) return handler(req, res);
    res.statusCode = 503;
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  try {
    const { port } = server.address() as AddressInfo;
    const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const provider = createProvider(issuer, { audience: options.audience, ttl, signingKey, client });
    provider.on('server_error', (_ctx: KoaContextWithOIDC, err: Error) => {
      warn(`demo issuer: internal error: ${err.message}`);
    });
    handler = provider.callback();
    return {
      issuer,
      jwksUri: `${issuer}/jwks`,
      tokenEndpoint: `${issuer}/token`,
      clientId: client.clientId,
      close: () => closeServer(server),
    };
  } catch (err) {
    await closeServer(server);
    throw err;
  }
}

function createProvider(
  issuer: string,
  setup: { audience: string; ttl: number; signingKey: SigningJwk; client: ClientFile },
): Provider {
  const { audience, ttl, signingKey, client } = setup;
  const resourceServer = {
    scope: '',
    audience,
    accessTokenTTL: ttl,
    accessTokenFormat: 'jwt' as const,
    jwt: { sign: { alg: 'ES256' as const, kid: signingKey.kid } },
  };
  // Roles travel from the grant handler to extraTokenClaims on the token object itself.
  const rolesByToken = new WeakMap<object, readonly string[]>();

  const configuration: Configuration = {
    clients: [
      {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        grant_types: [DEMO_GRANT_TYPE],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: DEMO_CONSOLE_CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [DEMO_CONSOLE_REDIRECT_URI],
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [...client.cookieKeys] },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    claims: { openid: ['sub'], email: ['email'], profile: ['name'], roles: ['roles'] },
    // The console is a backend-for-frontend that reads the ID token only (no userinfo call).
    conformIdTokenClaims: false,
    // Every browser sign-in uses PKCE (the console client is public, so it is required anyway).
    pkce: { required: () => true },
    findAccount: (_ctx, sub) => demoAccount(sub),
    extraTokenClaims: (_ctx, token: AccessToken | ClientCredentials) =>
      token.kind === 'AccessToken' ? demoClaims(token.accountId, rolesByToken.get(token) ?? []) : undefined,
    features: {
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Only an absolute URI can be a resource indicator; a bare audience such as `ztgate` is reached by the
        // demo grant alone, and browser sign-ins then get opaque tokens for userinfo.
        defaultResource: () => (URL.canParse(audience) ? audience : undefined),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== audience) throw new errors.InvalidTarget();
          return resourceServer;
        },
      },
    },
    ttl: {
      AccessToken: ttl,
      ClientCredentials: ttl,
      Grant: ttl,
      IdToken: ttl,
      Interaction: 600,
      Session: 86400,
    },
  };

  const provider = new Provider(issuer, configuration);

  provider.registerGrantType(
    DEMO_GRANT_TYPE,
    async (ctx) => {
      const { client: oidcClient, params } = ctx.oidc;
      if (oidcClient.clientId !== DEMO_CLIENT_ID) throw new errors.UnauthorizedClient();
      const user = parseUser(params.user);
      const roles = parseRoles(params.roles);

      // A real Grant backs the token, as for any other grant, so nothing downstream sees a dangling grantId.
      const grant = new provider.Grant({ accountId: user, clientId: oidcClient.clientId });
      const grantId = await grant.save();
      const token = new provider.AccessToken({
        client: oidcClient,
        accountId: user,
        grantId,
        gty: DEMO_GRANT_TYPE,
        resourceServer: new provider.ResourceServer(audience, resourceServer),
      });
      rolesByToken.set(token, roles);
      ctx.oidc.entity('AccessToken', token);
      const accessToken = await token.save();

      ctx.body = { access_token: accessToken, expires_in: token.expiration, token_type: token.tokenType };
    },
    ['user', 'roles'],
  );
  return provider;
}

async function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve, reject) =>
    server.close((err) => (err ? reject(err) : resolve())),
  );
  // fetch keeps connections alive; without this close() would wait for them to time out.
  server.closeAllConnections();
  await closed;
}

async function ensureKeysDir(home: string, warn: (msg: string) => void): Promise<string> {
  const dir = join(home, 'keys');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (((await stat(dir)).mode & 0o077) !== 0) {
    await chmod(dir, 0o700);
    warn(`demo issuer: tightened ${dir} to mode 0700`);
  }
  return dir;
}

async function createSigningKey(): Promise<SigningJwk> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const { x, y, d } = jwk;
  if (!x || !y || !d) throw new Error('generated ES256 key is incomplete');
  const kid = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x, y });
  return { kty: 'EC', crv: 'P-256', x, y, d, kid, alg: 'ES256', use: 'sig' };
}

function toJwkSet(key: SigningJwk): { keys: SigningJwk[] } {
  return { keys: [key] };
}

function parseSigningKey(value: unknown, path: string): SigningJwk {
  const key =
    isRecord(value) && Array.isArray(value.keys) && value.keys.length === 1 ? value.keys[0] : undefined;
  if (
    !isRecord(key) ||
    key.kty !== 'EC' ||
    key.crv !== 'P-256' ||
    !isNonEmptyString(key.x) ||
    !isNonEmptyString(key.y) ||
    !isNonEmptyString(key.d) ||
    !isNonEmptyString(key.kid)
  ) {
    throw new Error(`${path} is not a private ES256 JWK set`);
  }
  return { kty: 'EC', crv: 'P-256', x: key.x, y: key.y, d: key.d, kid: key.kid, alg: 'ES256', use: 'sig' };
}

async function createClientFile(): Promise<ClientFile> {
  return {
    clientId: DEMO_CLIENT_ID,
    clientSecret: randomBytes(32).toString('base64url'),
    cookieKeys: [randomBytes(32).toString('base64url')],
  };
}

function parseClientFile(value: unknown, path: string): ClientFile {
  if (
    !isRecord(value) ||
    value.clientId !== DEMO_CLIENT_ID ||
    !isNonEmptyString(value.clientSecret) ||
    !Array.isArray(value.cookieKeys) ||
    value.cookieKeys.length === 0 ||
    !value.cookieKeys.every(isNonEmptyString)
  ) {
    throw new Error(`${path} is not a valid demo client file`);
  }
  return { clientId: value.clientId, clientSecret: value.clientSecret, cookieKeys: value.cookieKeys };
}

/** Reads a private JSON file, or creates it (0600) if absent; a concurrent creator wins and is re-read. */
async function loadOrCreate<T>(
  path: string,
  parse: (value: unknown, path: string) => T,
  create: () => Promise<T>,
  toJson: (value: T) => unknown = (value) => value,
): Promise<T> {
  const existing = await readPrivateJson(path);
  if (existing !== undefined) return parse(existing, path);
  const created = await create();
  if (await createPrivateFile(path, `${JSON.stringify(toJson(created), null, 2)}\n`)) return created;
  return parse(await readPrivateJson(path), path);
}

async function readPrivateJson(path: string): Promise<unknown> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { mode } = await handle.stat();
    if ((mode & 0o077) !== 0) {
      throw new Error(
        `${path} is accessible by group or others; refusing to use it (run: chmod 600 ${path})`,
      );
    }
    return JSON.parse(await handle.readFile('utf8')) as unknown;
  } finally {
    await handle.close();
  }
}

/** Writes to a temporary file and hard-links it into place, so readers never see a half-written file. */
async function createPrivateFile(path: string, content: string): Promise<boolean> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
