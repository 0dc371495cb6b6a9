import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWTHeaderParameters } from 'jose';
import type { SigningKey } from './oidc-provider.js';

/**
 * A small device-trust service (an MDM/EDR stand-in) on loopback: publishes a discovery document
 * and a JWKS, signs posture assertions with its own ES256 key, counts requests by path, and can be
 * made unreachable (connections dropped).
 */
export interface TestDeviceService {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly audience: string;
  readonly kid: string;
  hits(path: string): number;
  /** Drops every connection from now on (true) or serves again (false). */
  setDown(down: boolean): void;
  /**
   * Signs an assertion: `iss`, `aud`, `iat` (now) and `exp` (now + 300) unless `claims` sets them
   * (`undefined` removes one). `header` and `key` override the protected header and signing key.
   */
  assert(
    claims: Readonly<Record<string, unknown>>,
    options?: { header?: Partial<JWTHeaderParameters>; key?: SigningKey },
  ): Promise<string>;
  close(): Promise<void>;
}

export async function startTestDeviceService(audience = 'ztgate'): Promise<TestDeviceService> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const counts = new Map<string, number>();
  let down = false;
  let issuer = '';

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (down) {
      req.socket.destroy();
      return;
    }
    res.setHeader('content-type', 'application/json');
    if (path === '/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    } else if (path === '/jwks') {
      res.end(JSON.stringify({ keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    audience,
    kid,
    hits: (path) => counts.get(path) ?? 0,
    setDown: (value) => {
      down = value;
      if (value) server.closeAllConnections();
    },
    async assert(claims, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = { iss: issuer, aud: audience, iat: now, exp: now + 300 };
      for (const [name, value] of Object.entries(claims)) {
        if (value === undefined) delete payload[name];
        else payload[name] = value;
      }
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT', ...options.header })
        .sign(options.key ?? privateKey);
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
