import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import {
  DemoTokenError,
  readDemoClient,
  requestDemoToken,
  startDemoIssuer,
  type DemoIssuer,
} from '../../src/demo/index.js';

const AUDIENCE = 'ztgate';
const quiet = (): void => {};

async function tempHome(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ztgate-demo-issuer-'));
}

async function verify(issuer: DemoIssuer, token: string): Promise<JWTPayload> {
  const jwks = createRemoteJWKSet(new URL(issuer.jwksUri));
  const { payload } = await jwtVerify(token, jwks, {
    issuer: issuer.issuer,
    audience: AUDIENCE,
    algorithms: ['ES256'],
  });
  return payload;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string, secret?: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof DemoTokenError);
    assert.equal(err.code, code);
    assert.match(err.message, new RegExp(code));
    if (secret) assert.ok(!err.message.includes(secret));
    return true;
  });
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('demo issuer', () => {
  let home: string;
  let issuer: DemoIssuer;
  let client: { clientId: string; clientSecret: string };

  before(async () => {
    home = await tempHome();
    issuer = await startDemoIssuer({ home, port: 0, audience: AUDIENCE, onWarn: quiet });
    client = await readDemoClient(home);
  });

  after(async () => {
    await issuer.close();
    await rm(home, { recursive: true, force: true });
  });

  test('discovery matches the bound port', async () => {
    const { port } = new URL(issuer.issuer);
    assert.match(issuer.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(port, '0');
    const response = await fetch(`${issuer.issuer}/.well-known/openid-configuration`);
    assert.equal(response.status, 200);
    const discovery = (await response.json()) as Record<string, unknown>;
    assert.equal(discovery.issuer, issuer.issuer);
    assert.equal(discovery.jwks_uri, issuer.jwksUri);
    assert.equal(discovery.token_endpoint, issuer.tokenEndpoint);
    assert.equal(new URL(issuer.jwksUri).port, port);
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: Record<string, unknown>[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.crv, 'P-256');
    assert.equal(jwks.keys[0]?.d, undefined, 'JWKS must not publish the private key');
    assert.equal(new URL(issuer.tokenEndpoint).port, port);
    assert.equal(client.clientId, 'ztgate-cli');
    assert.equal(issuer.clientId, 'ztgate-cli');
  });

  test('issues a verifiable ES256 JWT with the demo claims', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { accessToken, expiresIn } = await requestDemoToken({
      issuer: issuer.issuer,
      ...client,
      user: 'alice',
      roles: ['analyst', 'admin'],
    });
    assert.equal(expiresIn, 3600);
    const header = decodeProtectedHeader(accessToken);
    assert.equal(header.alg, 'ES256');
    assert.equal(typeof header.kid, 'string');

    const claims = await verify(issuer, accessToken);
    assert.equal(claims.iss, issuer.issuer);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.aud, AUDIENCE);
    assert.deepEqual(claims.roles, ['analyst', 'admin']);
    assert.equal(claims.email, 'alice@demo.ztgate.local');
    assert.equal(claims.name, 'alice');
    assert.equal(claims.demo, true);
    assert.equal(claims.client_id, 'ztgate-cli');
    assert.equal(typeof claims.jti, 'string');
    assert.ok(typeof claims.iat === 'number' && claims.iat >= before - 5);
    assert.equal(claims.exp, (claims.iat ?? 0) + 3600);
  });

  test('roles omitted gives an empty roles array', async () => {
    const { accessToken } = await requestDemoToken({ issuer: issuer.issuer, ...client, user: 'bob' });
    const claims = await verify(issuer, accessToken);
    assert.equal(claims.sub, 'bob');
    assert.deepEqual(claims.roles, []);
  });

  test('a wrong client secret is invalid_client and the secret is not echoed', async () => {
    const wrong = 'not-the-secret-value-0123456789';
    await rejectsWithCode(
      requestDemoToken({
        issuer: issuer.issuer,
        clientId: client.clientId,
        clientSecret: wrong,
        user: 'alice',
      }),
      'invalid_client',
      wrong,
    );
    await rejectsWithCode(
      requestDemoToken({
        issuer: issuer.issuer,
        clientId: 'someone-else',
        clientSecret: wrong,
        user: 'alice',
      }),
      'invalid_client',
      wrong,
    );
  });

  test('bad user or roles values are invalid_request', async () => {
    for (const user of ['', 'al ice', 'x'.repeat(65), 'alice/../root']) {
      await rejectsWithCode(requestDemoToken({ issuer: issuer.issuer, ...client, user }), 'invalid_request');
    }
    const tooMany = Array.from({ length: 17 }, (_, i) => `r${i}`);
    for (const roles of [tooMany, ['ok', 'not ok!'], ['a'.repeat(65)]]) {
      await rejectsWithCode(
        requestDemoToken({ issuer: issuer.issuer, ...client, user: 'alice', roles }),
        'invalid_request',
      );
    }
  });

  test('key and client files are private', async () => {
    assert.equal(await mode(join(home, 'keys')), 0o700);
    assert.equal(await mode(join(home, 'keys', 'demo-issuer.jwks.json')), 0o600);
    assert.equal(await mode(join(home, 'keys', 'demo-client.json')), 0o600);
  });
});

describe('demo issuer restart', () => {
  let home: string;

  before(async () => {
    home = await tempHome();
  });

  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  test('reuses the key and client secret, and old tokens still verify', async () => {
    const first = await startDemoIssuer({ home, port: 0, audience: AUDIENCE, onWarn: quiet });
    const port = Number(new URL(first.issuer).port);
    const client = await readDemoClient(home);
    const keyFile = await readFile(join(home, 'keys', 'demo-issuer.jwks.json'), 'utf8');
    let token: string;
    try {
      ({ accessToken: token } = await requestDemoToken({ issuer: first.issuer, ...client, user: 'carol' }));
    } finally {
      await first.close();
    }

    // Same port, so the issuer URL (and the token's iss) stays the same across the restart.
    const second = await startDemoIssuer({ home, port, audience: AUDIENCE, onWarn: quiet });
    try {
      assert.equal(second.issuer, first.issuer);
      assert.deepEqual(await readDemoClient(home), client);
      assert.equal(await readFile(join(home, 'keys', 'demo-issuer.jwks.json'), 'utf8'), keyFile);
      const claims = await verify(second, token);
      assert.equal(claims.sub, 'carol');
      const { accessToken } = await requestDemoToken({ issuer: second.issuer, ...client, user: 'carol' });
      const stored = JSON.parse(keyFile) as { keys: { kid: string; d?: string }[] };
      assert.equal(typeof stored.keys[0]?.d, 'string');
      assert.equal(decodeProtectedHeader(token).kid, stored.keys[0]?.kid);
      assert.equal(decodeProtectedHeader(accessToken).kid, stored.keys[0]?.kid);
    } finally {
      await second.close();
    }
  });

  test('refuses to start when the key file is readable by others', async () => {
    const ownHome = await tempHome();
    try {
      await (await startDemoIssuer({ home: ownHome, port: 0, audience: AUDIENCE, onWarn: quiet })).close();
      await chmod(join(ownHome, 'keys', 'demo-issuer.jwks.json'), 0o644);
      await assert.rejects(
        startDemoIssuer({ home: ownHome, port: 0, audience: AUDIENCE, onWarn: quiet }),
        /accessible by group or others/,
      );
    } finally {
      await rm(ownHome, { recursive: true, force: true });
    }
  });
});
