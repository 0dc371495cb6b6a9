import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHmac } from 'node:crypto';
import { SignJWT, importJWK, type JWK } from 'jose';
import { startDemoIssuer, readDemoClient, requestDemoToken, type DemoIssuer } from '../../src/demo/index.js';
import { createAuthenticator } from '../../src/identity/index.js';
import { ZtError, type AuthenticateStage } from '../../src/core/index.js';

/** The authenticate stage against a real OpenID provider on loopback. */
describe('authenticate stage (OIDC, real provider)', () => {
  let homeA: string;
  let homeB: string;
  let trusted: DemoIssuer;
  let stranger: DemoIssuer;
  let auth: AuthenticateStage;

  const tokenFrom = async (issuer: DemoIssuer, home: string, user = 'alice', roles: string[] = []) => {
    const client = await readDemoClient(home);
    return (await requestDemoToken({ issuer: issuer.issuer, ...client, user, roles })).accessToken;
  };
  const signingKey = async (home: string) => {
    const set = JSON.parse(await readFile(join(home, 'keys', 'demo-issuer.jwks.json'), 'utf8')) as {
      keys: JWK[];
    };
    const jwk = set.keys[0]!;
    return { key: await importJWK(jwk, 'ES256'), kid: jwk.kid!, jwk };
  };
  const code = async (bearer: string | undefined): Promise<string> => {
    try {
      await auth({ requestId: 'r', credentials: { bearer, headers: {}, remoteAddress: undefined } });
      return 'ok';
    } catch (err) {
      return err instanceof ZtError ? `${err.status} ${err.code}` : `threw ${String(err)}`;
    }
  };

  before(async () => {
    homeA = await mkdtemp(join(tmpdir(), 'ztgate-auth-a-'));
    homeB = await mkdtemp(join(tmpdir(), 'ztgate-auth-b-'));
    trusted = await startDemoIssuer({ home: homeA, port: 0, audience: 'ztgate', onWarn: () => {} });
    stranger = await startDemoIssuer({ home: homeB, port: 0, audience: 'ztgate', onWarn: () => {} });
    auth = createAuthenticator({
      issuers: [
        {
          issuer: trusted.issuer,
          audience: 'ztgate',
          algorithms: ['ES256'],
          clockSkewSeconds: 5,
          rolesClaim: 'roles',
          groupsClaim: 'groups',
        },
      ],
      maxTokenBytes: 8192,
      tokenCacheSize: 100,
      jwksTimeoutMs: 2000,
    });
  });
  after(async () => {
    await trusted.close();
    await stranger.close();
    await rm(homeA, { recursive: true, force: true });
    await rm(homeB, { recursive: true, force: true });
  });

  it('accepts a token the trusted provider issued and maps its claims', async () => {
    const token = await tokenFrom(trusted, homeA, 'alice', ['analyst', 'admin']);
    const { principal } = await auth({
      requestId: 'r',
      credentials: { bearer: token, headers: {}, remoteAddress: undefined },
    });
    assert.equal(principal.subject, 'alice');
    assert.equal(principal.id, `${trusted.issuer}#alice`);
    assert.deepEqual(principal.roles, ['analyst', 'admin']);
    assert.equal(principal.authMethod, 'oidc');
  });

  it('refuses: none, garbage, a valid token from an untrusted issuer', async () => {
    assert.equal(await code(undefined), '401 unauthenticated');
    assert.equal(await code('not.a.jwt!'), '401 unauthenticated');
    assert.equal(await code(await tokenFrom(stranger, homeB)), '401 unauthenticated');
  });

  it('refuses a tampered payload and a bad signature', async () => {
    const token = await tokenFrom(trusted, homeA, 'bob');
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    payload.sub = 'admin';
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    assert.equal(await code(tampered), '401 unauthenticated');
    const flipped = `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    assert.equal(await code(flipped), '401 unauthenticated');
  });

  it('refuses alg:none and HS256 signed with the public key', async () => {
    const { jwk, kid } = await signingKey(homeA);
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: trusted.issuer, aud: 'ztgate', sub: 'mallory', iat: now, exp: now + 600 };
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    assert.equal(await code(none), '401 unauthenticated');
    const publicJwk = JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
    const head = Buffer.from(JSON.stringify({ alg: 'HS256', kid })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const mac = createHmac('sha256', publicJwk).update(`${head}.${body}`).digest('base64url');
    assert.equal(await code(`${head}.${body}.${mac}`), '401 unauthenticated');
  });

  it('refuses expired, not-yet-valid, wrong-audience tokens signed with the real key', async () => {
    const { key, kid } = await signingKey(homeA);
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', kid }).sign(key);
    const base = { iss: trusted.issuer, aud: 'ztgate', sub: 'alice' };
    assert.equal(await code(await sign({ ...base, iat: now, exp: now + 600 })), 'ok', 'control');
    assert.equal(
      await code(await sign({ ...base, iat: now - 7200, exp: now - 3600 })),
      '401 unauthenticated',
    );
    assert.equal(
      await code(await sign({ ...base, iat: now, nbf: now + 3600, exp: now + 7200 })),
      '401 unauthenticated',
    );
    assert.equal(
      await code(await sign({ ...base, aud: 'other', iat: now, exp: now + 600 })),
      '401 unauthenticated',
    );
    assert.equal(
      await code(await sign({ iss: trusted.issuer, aud: 'ztgate', iat: now, exp: now + 600 })),
      '401 unauthenticated',
    );
  });

  it('refuses an oversized token without verifying it', async () => {
    assert.equal(await code('a'.repeat(9000)), '401 unauthenticated');
  });

  it('answers 503 when the trusted issuer cannot be reached (fail closed, not open)', async () => {
    const home = await mkdtemp(join(tmpdir(), 'ztgate-auth-c-'));
    const gone = await startDemoIssuer({ home, port: 0, audience: 'ztgate', onWarn: () => {} });
    const token = await tokenFrom(gone, home);
    const issuer = gone.issuer;
    await gone.close();
    const lonely = createAuthenticator({
      issuers: [
        {
          issuer,
          audience: 'ztgate',
          algorithms: ['ES256'],
          clockSkewSeconds: 5,
          rolesClaim: 'roles',
          groupsClaim: 'groups',
        },
      ],
      maxTokenBytes: 8192,
      tokenCacheSize: 100,
      jwksTimeoutMs: 1000,
    });
    await assert.rejects(
      lonely({ requestId: 'r', credentials: { bearer: token, headers: {}, remoteAddress: undefined } }),
      (err: unknown) =>
        err instanceof ZtError && err.code === 'authentication_unavailable' && err.status === 503,
    );
    await rm(home, { recursive: true, force: true });
  });
});
