/**
 * DEMO ONLY. The client side of the demo OpenID provider: what `ztgate token` uses to mint a token for a
 * made-up user. Kept free of oidc-provider so the CLI command stays light.
 */
import { open } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

/** The client id of the demo provider's only confidential client (the ztgate CLI). */
export const DEMO_CLIENT_ID = 'ztgate-cli';

/** The custom grant type with which the CLI asks the demo provider for a token for any user. */
export const DEMO_GRANT_TYPE = 'urn:ztgate:params:oauth:grant-type:demo-user';

/** Where the demo client's credentials (and the provider's cookie keys) live under a ztgate home. */
export function demoClientPath(home: string): string {
  return join(home, 'keys', 'demo-client.json');
}

/** A failed demo token request. `code` is the OAuth error code (or a local one such as `discovery_failed`). */
export class DemoTokenError extends Error {
  readonly code: string;

  constructor(code: string, detail?: string) {
    super(`demo token request failed: ${code}${detail ? ` (${detail})` : ''}`);
    this.name = 'DemoTokenError';
    this.code = code;
  }
}

/** Options for {@link requestDemoToken}. */
export interface DemoTokenRequest {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly user: string;
  readonly roles?: readonly string[];
  readonly signal?: AbortSignal;
}

/**
 * DEMO ONLY. Asks the demo provider for an access token for `user` with `roles`, using the custom demo grant
 * and client_secret_basic. The token endpoint comes from the issuer's discovery document.
 * Throws {@link DemoTokenError}; its message carries the OAuth error code and never the client secret.
 */
export async function requestDemoToken(
  options: DemoTokenRequest,
): Promise<{ accessToken: string; expiresIn: number }> {
  const tokenEndpoint = await discoverTokenEndpoint(options.issuer, options.signal);

  const body = new URLSearchParams({ grant_type: DEMO_GRANT_TYPE, user: options.user });
  if (options.roles && options.roles.length > 0) body.set('roles', options.roles.join(' '));

  // RFC 6749 §2.3.1: id and secret are form-urlencoded before being joined for Basic auth.
  const basic = Buffer.from(
    `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
  ).toString('base64');

  const response = await fetchOrThrow(tokenEndpoint, 'token_request_failed', {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body,
    signal: options.signal,
  });
  const json = await readJson(response);

  if (!response.ok) {
    const code = typeof json?.error === 'string' ? json.error : `http_${response.status}`;
    const description = typeof json?.error_description === 'string' ? json.error_description : undefined;
    throw new DemoTokenError(code, description);
  }
  const accessToken = json?.access_token;
  const expiresIn = json?.expires_in;
  if (typeof accessToken !== 'string' || typeof expiresIn !== 'number') {
    throw new DemoTokenError('invalid_token_response', 'missing access_token or expires_in');
  }
  return { accessToken, expiresIn };
}

/**
 * Reads the demo client's credentials from `<home>/keys/demo-client.json` (written by the demo provider on its
 * first start). Refuses a file that group or others may access.
 */
export async function readDemoClient(home: string): Promise<{ clientId: string; clientSecret: string }> {
  const path = demoClientPath(home);
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      const { mode } = await handle.stat();
      if ((mode & 0o077) !== 0) {
        throw new Error(`${path} is accessible by group or others; run: chmod 600 ${path}`);
      }
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      throw new Error(`no demo client at ${path}; start ztgate in demo mode once to create it`, {
        cause: err,
      });
    }
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  if (
    !isRecord(parsed) ||
    typeof parsed.clientId !== 'string' ||
    typeof parsed.clientSecret !== 'string' ||
    parsed.clientSecret.length === 0
  ) {
    throw new Error(`${path} is not a valid demo client file`);
  }
  return { clientId: parsed.clientId, clientSecret: parsed.clientSecret };
}

async function discoverTokenEndpoint(issuer: string, signal: AbortSignal | undefined): Promise<URL> {
  const discoveryUrl = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const response = await fetchOrThrow(discoveryUrl, 'discovery_failed', {
    headers: { accept: 'application/json' },
    signal,
  });
  const json = await readJson(response);
  if (!response.ok || !json) throw new DemoTokenError('discovery_failed', `HTTP ${response.status}`);
  if (json.issuer !== issuer) throw new DemoTokenError('discovery_failed', 'issuer mismatch');
  const endpoint = typeof json.token_endpoint === 'string' ? URL.parse(json.token_endpoint) : null;
  if (!endpoint) throw new DemoTokenError('discovery_failed', 'no valid token_endpoint');
  // The client secret goes in a header: never send it in clear text off this machine.
  if (
    endpoint.protocol !== 'https:' &&
    !(endpoint.protocol === 'http:' && isLoopbackHost(endpoint.hostname))
  ) {
    throw new DemoTokenError('discovery_failed', 'token_endpoint must be https or loopback');
  }
  return endpoint;
}

async function fetchOrThrow(url: string | URL, code: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (init.signal?.aborted) throw err;
    throw new DemoTokenError(code, err instanceof Error ? err.message : String(err));
  }
}

async function readJson(response: Response): Promise<Record<string, unknown> | undefined> {
  try {
    const parsed: unknown = await response.json();
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** @internal True for `localhost`, 127.0.0.0/8 and ::1 (brackets allowed). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}
