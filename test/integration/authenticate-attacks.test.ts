import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CompactEncrypt, importJWK } from 'jose';
import type { IssuerConfig } from '../../src/config/index.js';
import type { AuthenticateStage } from '../../src/core/index.js';
import { createAuthenticator } from '../../src/identity/authenticate.js';
import {
  attackerKey,
  b64json,
  outcome,
  sign,
  signRawEs256,
  startTrap,
  type Trap,
} from '../helpers/oidc-attacker.js';
import { startTestOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { startTestGateway } from '../helpers/gateway.js';

/**
 * Attacks on the authenticate stage, against a real OpenID provider (oidc-provider) on loopback.
 * Each must end in 401 `unauthenticated` with a stable reason in the log detail.
 */
describe('authenticate: attacks on bearer JWTs', () => {
  let trusted: TestOidcProvider;
  let stranger: TestOidcProvider;
  let trap: Trap;
  let auth: AuthenticateStage;
  let issuerConfig: IssuerConfig;
  const refused = (reason: string): string => `401 unauthenticated ${reason}`;
  const now = (): number => Math.floor(Date.now() / 1000);
  const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    iss: trusted.issuer,
    aud: trusted.audience,
    sub: 'mallory',
    iat: now(),
    exp: now() + 600,
    ...extra,
  });
  const withRealKey = (extra: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    sign(claims(extra), { alg: 'ES256', kid: trusted.key.kid, ...header }, trusted.key.privateKey);
  const hmacToken = (secret: string): string => {
    const head = b64json({ alg: 'HS256', typ: 'JWT', kid: trusted.key.kid });
    const body = b64json(claims());
    return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`;
  };

  before(async () => {
    trusted = await startTestOidcProvider();
    stranger = await startTestOidcProvider();
    trap = await startTrap();
    issuerConfig = {
      issuer: trusted.issuer,
      audience: trusted.audience,
      algorithms: ['ES256'],
      clockSkewSeconds: 5,
      rolesClaim: 'roles',
      groupsClaim: 'groups',
      jwksCooldownSeconds: 1,
    };
    auth = createAuthenticator({
      issuers: [issuerConfig],
      maxTokenBytes: 8192,
      tokenCacheSize: 100,
      jwksTimeoutMs: 2000,
    });
  });
  after(async () => {
    assert.equal(trap.requests, 0, 'the attacker-controlled URL must never be fetched');
    await Promise.all([trusted.close(), stranger.close(), trap.close()]);
  });

  it('control: a token the trusted provider issued is accepted', async () => {
    assert.equal(await outcome(auth, await trusted.userToken('alice')), 'ok');
    assert.equal(await outcome(auth, await withRealKey()), 'ok');
  });

  it('alg:none (any spelling, empty or present signature)', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      const unsigned = `${b64json({ alg, typ: 'JWT' })}.${b64json(claims())}`;
      assert.equal(await outcome(auth, `${unsigned}.`), refused('alg_none'));
      assert.equal(await outcome(auth, `${unsigned}.c2ln`), refused('alg_none'));
    }
  });

  it('HS256 signed with the issuer public key as JWK JSON: refused before any key lookup', async () => {
    const fresh = createAuthenticator({
      issuers: [issuerConfig],
      maxTokenBytes: 8192,
      tokenCacheSize: 0,
      jwksTimeoutMs: 2000,
    });
    const fetchesBefore = trusted.hits('/jwks') + trusted.hits('/.well-known/openid-configuration');
    assert.equal(
      await outcome(fresh, hmacToken(JSON.stringify(trusted.key.publicJwk))),
      refused('alg_not_allowed'),
    );
    assert.equal(trusted.hits('/jwks') + trusted.hits('/.well-known/openid-configuration'), fetchesBefore);
  });

  it('HS256 signed with the issuer public key as PEM', async () => {
    assert.equal(await outcome(auth, hmacToken(trusted.key.publicPem)), refused('alg_not_allowed'));
  });

  it('unknown kid (an attacker key)', async () => {
    const evil = await attackerKey();
    assert.equal(
      await outcome(auth, await sign(claims(), { alg: 'ES256', kid: evil.kid }, evil.privateKey)),
      refused('unknown_kid'),
    );
  });

  it('jku header injection: refused, never fetched', async () => {
    const evil = await attackerKey();
    const token = await sign(
      claims(),
      { alg: 'ES256', kid: evil.kid, jku: `${trap.url}/jwks` },
      evil.privateKey,
    );
    assert.equal(await outcome(auth, token), refused('header_key_reference'));
    assert.equal(trap.requests, 0);
  });

  it('x5u header injection: refused, never fetched', async () => {
    const evil = await attackerKey();
    const token = await sign(
      claims(),
      { alg: 'ES256', kid: evil.kid, x5u: `${trap.url}/cert.pem` },
      evil.privateKey,
    );
    assert.equal(await outcome(auth, token), refused('header_key_reference'));
    assert.equal(trap.requests, 0);
  });

  it('jwk header: an embedded attacker key, signed with it (also under the real kid)', async () => {
    const evil = await attackerKey();
    for (const kid of [evil.kid, trusted.key.kid]) {
      const token = await sign(claims(), { alg: 'ES256', kid, jwk: evil.publicJwk }, evil.privateKey);
      assert.equal(await outcome(auth, token), refused('header_key_reference'));
    }
  });

  it('x5c header: an embedded attacker certificate chain', async () => {
    const evil = await attackerKey();
    const token = await sign(
      claims(),
      { alg: 'ES256', kid: evil.kid, x5c: ['MIIBszCCAVmgAwIBAgIUTrap'] },
      evil.privateKey,
    );
    assert.equal(await outcome(auth, token), refused('header_key_reference'));
  });

  it('expired (signed with the real key)', async () => {
    assert.equal(
      await outcome(auth, await withRealKey({ iat: now() - 7200, exp: now() - 3600 })),
      refused('expired'),
    );
  });

  it('not yet valid (nbf in the future)', async () => {
    assert.equal(
      await outcome(auth, await withRealKey({ nbf: now() + 3600, exp: now() + 7200 })),
      refused('not_yet_valid'),
    );
  });

  it('iat in the future', async () => {
    assert.equal(await outcome(auth, await withRealKey({ iat: now() + 3600 })), refused('iat_in_future'));
  });

  it('wrong iss (signed with the real key; near-miss spellings)', async () => {
    for (const iss of [
      `${trusted.issuer}/`,
      trusted.issuer.toUpperCase(),
      'https://evil.example',
      undefined,
    ]) {
      assert.equal(await outcome(auth, await withRealKey({ iss })), refused('untrusted_issuer'));
    }
  });

  it('wrong aud (signed with the real key)', async () => {
    assert.equal(
      await outcome(auth, await withRealKey({ aud: 'api://someone-else' })),
      refused('wrong_audience'),
    );
  });

  it('a valid token from an untrusted issuer (a second real provider)', async () => {
    assert.equal(await outcome(auth, await stranger.userToken('alice')), refused('untrusted_issuer'));
  });

  it('issuer confusion: the untrusted provider key, claiming the trusted iss', async () => {
    const token = await sign(claims(), { alg: 'ES256', kid: stranger.key.kid }, stranger.key.privateKey);
    assert.equal(await outcome(auth, token), refused('unknown_kid'));
    const sameKid = await sign(claims(), { alg: 'ES256', kid: trusted.key.kid }, stranger.key.privateKey);
    assert.equal(await outcome(auth, sameKid), refused('bad_signature'));
  });

  it('tampered payload (sub changed, signature kept)', async () => {
    const [h, p, s] = (await trusted.userToken('bob')).split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(
      await outcome(auth, `${h}.${b64json({ ...payload, sub: 'admin' })}.${s}`),
      refused('bad_signature'),
    );
  });

  it('oversized token (validly signed, refused unparsed)', async () => {
    const big = await withRealKey({ pad: 'x'.repeat(9000) });
    assert.equal(await outcome(auth, big), refused('token_too_large'));
  });

  it('bad signature (a byte of the real signature changed)', async () => {
    const token = await trusted.userToken('carol');
    const i = token.lastIndexOf('.') + 10;
    const flipped = `${token.slice(0, i)}${token[i] === 'A' ? 'B' : 'A'}${token.slice(i + 1)}`;
    assert.equal(await outcome(auth, flipped), refused('bad_signature'));
  });

  it('crit header naming an unknown extension (signed with the real key)', async () => {
    const header = { kid: trusted.key.kid, crit: ['exp-ztgate-test'], 'exp-ztgate-test': true };
    const token = signRawEs256(claims(), header, trusted.key.privateKey);
    assert.equal(await outcome(auth, token), refused('crit_unsupported'));
    // Control: the same raw signing without crit is accepted.
    assert.equal(
      await outcome(auth, signRawEs256(claims(), { kid: trusted.key.kid }, trusted.key.privateKey)),
      'ok',
    );
  });

  it('typ not JWT-like (a DPoP proof, a logout token; signed with the real key)', async () => {
    for (const typ of ['dpop+jwt', 'logout+jwt', 'JOSE']) {
      assert.equal(await outcome(auth, await withRealKey({}, { typ })), refused('typ_not_allowed'));
    }
  });

  it('nested JWT (cty header)', async () => {
    assert.equal(await outcome(auth, await withRealKey({}, { cty: 'JWT' })), refused('header_not_allowed'));
  });

  it('base64 padding, duplicate padding and non-canonical spellings of a valid token', async () => {
    const token = await trusted.userToken('dave');
    const [h, p, s] = token.split('.') as [string, string, string];
    for (const padded of [`${h}=.${p}.${s}`, `${h}.${p}==.${s}`, `${h}.${p}.${s}=`, `${h}.${p}.${s}==`]) {
      assert.equal(await outcome(auth, padded), refused('malformed'));
    }
    // The same bytes spelled differently would dodge a revocation by token hash.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = s.at(-1) as string;
    const sameBytes = `${h}.${p}.${s.slice(0, -1)}${alphabet[alphabet.indexOf(last) + 1]}`;
    assert.deepEqual(Buffer.from(sameBytes.split('.')[2]!, 'base64url'), Buffer.from(s, 'base64url'));
    assert.equal(await outcome(auth, sameBytes), refused('malformed_encoding'));
    // A segment of length 1 (mod 4) is no base64url at all, however lenient a decoder is.
    assert.equal((s.length + 3) % 4, 1);
    assert.equal(await outcome(auth, `${h}.${p}.${s}AAA`), refused('malformed_encoding'));
  });

  it('a JWE (5 parts), encrypted to the issuer public key', async () => {
    const jwe = await new CompactEncrypt(Buffer.from(JSON.stringify(claims())))
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', kid: trusted.key.kid })
      .encrypt(await importJWK(trusted.key.publicJwk, 'ECDH-ES'));
    assert.equal(jwe.split('.').length, 5);
    assert.equal(await outcome(auth, jwe), refused('jwe_not_accepted'));
  });

  it('a flood of unknown-kid tokens costs at most one JWKS fetch per cooldown (1 s here)', async () => {
    const evil = await attackerKey();
    const start = Date.now();
    let sent = 0;
    while (Date.now() - start < 2600) {
      const batch = Array.from({ length: 25 }, (_, i) =>
        sign(claims(), { alg: 'ES256', kid: `${evil.kid}-${sent + i}` }, evil.privateKey).then((t) =>
          outcome(auth, t),
        ),
      );
      for (const result of await Promise.all(batch)) assert.equal(result, refused('unknown_kid'));
      sent += batch.length;
      await sleep(20);
    }
    const fetches = trusted.hitTimes('/jwks').filter((t) => t >= start);
    assert.ok(sent >= 200, `sent ${sent}`);
    assert.ok(
      fetches.length >= 1 && fetches.length <= 3,
      `${fetches.length} JWKS fetches for ${sent} tokens`,
    );
    for (let i = 1; i < fetches.length; i++) {
      assert.ok(fetches[i]! - fetches[i - 1]! >= 950, `fetches ${fetches[i]! - fetches[i - 1]!} ms apart`);
    }
  });

  it('through the gateway: the reason is logged, the token is not', async () => {
    const t = await startTestGateway();
    try {
      const forged = `${b64json({ alg: 'none' })}.${b64json({ iss: t.gw.demoIssuer, sub: 'root', exp: now() + 60 })}.`;
      const res = await fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${forged}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(res.status, 401);
      assert.match(t.logs.text(), /"detail":"alg_none"/);
      assert.ok(!t.logs.text().includes(forged.slice(0, 40)), 'the token must not be logged');
    } finally {
      await t.close();
    }
  });
});
