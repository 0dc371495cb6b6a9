import { KeyObject, sign as nodeSign } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type JWK,
  type JWTHeaderParameters,
} from 'jose';
import { ZtError, type AuthenticateStage } from '../../src/core/index.js';
import type { SigningKey } from './oidc-provider.js';

/** An attacker's HTTP server that a verifier must never contact (for jku/x5u injection). */
export interface Trap {
  readonly url: string;
  readonly requests: number;
  close(): Promise<void>;
}

export async function startTrap(): Promise<Trap> {
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.setHeader('content-type', 'application/json');
    res.end('{"keys":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return requests;
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** An attacker's own ES256 key pair. */
export async function attackerKey(): Promise<{ privateKey: SigningKey; publicJwk: JWK; kid: string }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicJwk, kid: await calculateJwkThumbprint(publicJwk) };
}

export function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function sign(
  claims: Readonly<Record<string, unknown>>,
  header: JWTHeaderParameters,
  key: SigningKey,
): Promise<string> {
  return new SignJWT({ ...claims }).setProtectedHeader(header).sign(key);
}

/** Signs any header as ES256 (jose refuses some headers, such as an unknown `crit`, on signing). */
export function signRawEs256(
  claims: Readonly<Record<string, unknown>>,
  header: Readonly<Record<string, unknown>>,
  key: SigningKey,
): string {
  const input = `${b64json({ ...header, alg: 'ES256' })}.${b64json(claims)}`;
  const signature = nodeSign('sha256', Buffer.from(input), {
    key: KeyObject.from(key as Parameters<typeof KeyObject.from>[0]),
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

/** Runs the stage and describes the outcome: `ok`, or `<status> <code> <logDetail>`. */
export async function outcome(
  auth: AuthenticateStage,
  bearer: string | undefined,
  headers: Readonly<Record<string, string>> = {},
): Promise<string> {
  try {
    await auth({ requestId: 'r', credentials: { bearer, headers, remoteAddress: undefined } });
    return 'ok';
  } catch (err) {
    if (err instanceof ZtError) return `${err.status} ${err.code} ${err.logDetail ?? ''}`.trim();
    return `threw ${String(err)}`;
  }
}
