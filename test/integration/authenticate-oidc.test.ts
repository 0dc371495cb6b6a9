import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseConfig, type IssuerConfig } from '../../src/config/index.js';
import { createAuthenticator, type RevocationSubject } from '../../src/identity/authenticate.js';
import { claimAt } from '../../src/identity/claims.js';
import { outcome, sign } from '../helpers/oidc-attacker.js';
import { startTestOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';

/** OIDC features of the authenticate stage, against real OpenID providers on loopback. */
describe('authenticate: OIDC issuers, claims, revocation', () => {
  let entra: TestOidcProvider;
  let keycloak: TestOidcProvider;
  const base = (p: TestOidcProvider): IssuerConfig => ({
    issuer: p.issuer,
    audience: p.audience,
    algorithms: ['ES256'],
    clockSkewSeconds: 5,
    rolesClaim: 'roles',
    groupsClaim: 'groups',
  });
  const make = (issuers: IssuerConfig[], extra: Partial<Parameters<typeof createAuthenticator>[0]> = {}) =>
    createAuthenticator({ issuers, maxTokenBytes: 8192, tokenCacheSize: 100, jwksTimeoutMs: 2000, ...extra });
  const entraConfig = (): IssuerConfig => ({
    ...base(entra),
    requiredClaims: ['iat', 'jti'],
    requiredClaimValues: { tid: 'tenant-a' },
    serviceClaim: { claim: 'idtyp', values: ['app'] },
    claims: {
      subject: 'sub',
      email: 'upn',
      department: 'dept',
      clearance: 'clearance',
      homeRegion: 'region',
    },
  });
  const keycloakConfig = (): IssuerConfig => ({
    ...base(keycloak),
    claims: { subject: 'sub', email: 'email', roles: 'realm_access.roles', groups: 'groups' },
  });
  const principalOf = async (auth: ReturnType<typeof make>, bearer: string) =>
    (await auth({ requestId: 'r', credentials: { bearer, headers: {}, remoteAddress: undefined } }))
      .principal;

  before(async () => {
    entra = await startTestOidcProvider({ audience: 'api://ztgate' });
    keycloak = await startTestOidcProvider({ audience: 'ztgate-kc' });
  });
  after(async () => {
    await Promise.all([entra.close(), keycloak.close()]);
  });

  it('trusts several issuers at once and maps each one claims its own way', async () => {
    const auth = make([entraConfig(), keycloakConfig()]);
    const a = await principalOf(
      auth,
      await entra.userToken('alice', {
        tid: 'tenant-a',
        upn: 'alice@corp.example',
        roles: ['analyst'],
        groups: 'finance emea',
        dept: 'Finance',
        clearance: 3,
        region: 'eu-west',
      }),
    );
    assert.equal(a.kind, 'user');
    assert.equal(a.id, `${entra.issuer}#alice`);
    assert.equal(a.email, 'alice@corp.example');
    assert.deepEqual(a.roles, ['analyst']);
    assert.deepEqual(a.groups, ['finance', 'emea']);
    assert.deepEqual(a.attributes, { department: 'Finance', clearance: 3, homeRegion: 'eu-west' });
    const k = await principalOf(
      auth,
      await keycloak.userToken('bob', {
        realm_access: { roles: ['admin', 'user'] },
        email: 'bob@kc.example',
      }),
    );
    assert.equal(k.id, `${keycloak.issuer}#bob`);
    assert.deepEqual(k.roles, ['admin', 'user']);
    assert.deepEqual(k.attributes, {});
  });

  it('required claims and exact claim values (an Entra tenant)', async () => {
    const auth = make([entraConfig()]);
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: entra.issuer, aud: entra.audience, sub: 'alice', exp: now + 60, tid: 'tenant-a' };
    const header = { alg: 'ES256', kid: entra.key.kid };
    const signed = (c: Record<string, unknown>) => sign(c, header, entra.key.privateKey);
    assert.equal(await outcome(auth, await signed({ ...claims, iat: now, jti: 'j1' })), 'ok');
    assert.equal(
      await outcome(auth, await signed({ ...claims, jti: 'j2' })),
      '401 unauthenticated missing_claim:iat',
    );
    assert.equal(
      await outcome(auth, await signed({ ...claims, iat: now, jti: 'j3', tid: 'tenant-b' })),
      '401 unauthenticated claim_mismatch:tid',
    );
    const { tid: _tid, ...noTenant } = claims;
    assert.equal(
      await outcome(auth, await signed({ ...noTenant, iat: now, jti: 'j4' })),
      '401 unauthenticated missing_claim:tid',
    );
    const { exp: _exp, ...noExp } = claims;
    assert.equal(
      await outcome(auth, await signed({ ...noExp, iat: now, jti: 'j5' })),
      '401 unauthenticated missing_claim:exp',
    );
  });

  it('a configured subject claim must be present (oid)', async () => {
    const auth = make([{ ...base(entra), claims: { subject: 'oid', email: 'email' } }]);
    assert.equal(
      (await principalOf(auth, await entra.userToken('x', { oid: 'oid-123' }))).subject,
      'oid-123',
    );
    assert.equal(await outcome(auth, await entra.userToken('x')), '401 unauthenticated missing_claim:oid');
  });

  it('mapped values are validated and bounded, never truncated', async () => {
    const auth = make([
      keycloakConfig(),
      { ...base(entra), claims: { subject: 'sub', email: 'email', department: 'dept' } },
    ]);
    const kc = (c: Record<string, unknown>) => keycloak.userToken('carol', c);
    const many = (n: number) => Array.from({ length: n }, (_, i) => `r${i}`);
    assert.equal(await outcome(auth, await kc({ realm_access: { roles: many(256) } })), 'ok');
    const tooMany = await kc({ realm_access: { roles: many(257) } });
    assert.equal(await outcome(auth, tooMany), '401 unauthenticated invalid_claim:roles');
    const tooLong = await kc({ realm_access: { roles: ['x'.repeat(257)] } });
    assert.equal(await outcome(auth, tooLong), '401 unauthenticated invalid_claim:roles');
    const notString = await kc({ realm_access: { roles: [1, 2] } });
    assert.equal(await outcome(auth, notString), '401 unauthenticated invalid_claim:roles');
    const control = await kc({ email: 'carol@kc.example\nforged log line' });
    assert.equal(await outcome(auth, control), '401 unauthenticated invalid_claim:email');
    const dept = await entra.userToken('dan', { dept: { name: 'x' } });
    assert.equal(await outcome(auth, dept), '401 unauthenticated invalid_claim:department');
    assert.equal(
      await outcome(auth, await keycloak.userToken('e'.repeat(257))),
      '401 unauthenticated invalid_claim:subject',
    );
  });

  it('claim paths follow own properties only; an exact (URL) name wins over a dotted path', () => {
    const claims = { 'https://corp.example/roles': ['a'], https: { x: 1 }, nested: { deep: { v: 'ok' } } };
    assert.deepEqual(claimAt(claims, 'https://corp.example/roles'), ['a']);
    assert.equal(claimAt(claims, 'nested.deep.v'), 'ok');
    assert.equal(claimAt(claims, 'nested.constructor.name'), undefined);
    assert.equal(claimAt(claims, '__proto__.toString'), undefined);
  });

  it('a client-credentials token is a service principal; a user token stays a user', async () => {
    const auth = make([{ ...entraConfig(), requiredClaimValues: {} }]);
    const svc = await principalOf(auth, await entra.serviceToken());
    assert.equal(svc.kind, 'service');
    assert.equal(svc.subject, 'test-client');
    assert.deepEqual(svc.roles, ['svc.invoke']);
    // Without a serviceClaim rule, every token is a user (the behaviour before this setting).
    assert.equal((await principalOf(make([base(entra)]), await entra.serviceToken())).kind, 'user');
    // Tenant pinning applies to service tokens too.
    assert.equal(
      await outcome(make([entraConfig()]), await entra.serviceToken()),
      '401 unauthenticated missing_claim:tid',
    );
  });

  it('a discovery document naming another issuer → 503; jwksUri skips discovery', async () => {
    const liar = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: 'https://elsewhere.example', jwks_uri: entra.jwksUri }));
    });
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
    const liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
    const lying = make([{ ...base(entra), issuer: liarUrl }]);
    const token = await sign(
      { iss: liarUrl, aud: entra.audience, sub: 'a', exp: Math.floor(Date.now() / 1000) + 60 },
      { alg: 'ES256', kid: entra.key.kid },
      entra.key.privateKey,
    );
    assert.equal(await outcome(lying, token), '503 authentication_unavailable keys_unavailable');
    liar.close();
    const discoveries = entra.hits('/.well-known/openid-configuration');
    const direct = make([{ ...base(entra), jwksUri: entra.jwksUri }]);
    assert.equal(await outcome(direct, await entra.userToken('alice')), 'ok');
    assert.equal(entra.hits('/.well-known/openid-configuration'), discoveries);
  });

  it('asks the revocation predicate on every request, cached or not', async () => {
    const asked: RevocationSubject[] = [];
    let revoked = new Set<string>();
    const auth = make([base(entra)], {
      isRevoked: (who) => {
        asked.push(who);
        return revoked.has(who.subject) || (who.sessionId !== undefined && revoked.has(who.sessionId));
      },
    });
    const token = await entra.userToken('alice', { sid: 'session-1' });
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
    assert.equal(await outcome(auth, token), 'ok');
    assert.equal(await outcome(auth, token), 'ok');
    assert.equal(asked.length, 2);
    assert.deepEqual(asked[1], {
      subject: `${entra.issuer}#alice`,
      tokenHash: createHash('sha256').update(token).digest('hex'),
      jti,
      sessionId: 'session-1',
    });
    revoked = new Set([`${entra.issuer}#alice`]);
    assert.equal(await outcome(auth, token), '401 unauthenticated revoked');
    revoked = new Set(['session-1']);
    assert.equal(await outcome(auth, token), '401 unauthenticated revoked');
    const structured = make([base(entra)], { isRevoked: () => ({ revoked: true }) });
    assert.equal(await outcome(structured, token), '401 unauthenticated revoked');
    const broken = make([base(entra)], {
      isRevoked: () => {
        throw new Error('revocation list not loaded');
      },
    });
    assert.equal(await outcome(broken, token), '503 authentication_unavailable revocation_unavailable');
  });

  it('evicts cached tokens by subject, session, token hash; an empty match evicts nothing', async () => {
    const auth = make([base(entra)]);
    const a1 = await entra.userToken('alice', { sid: 's-a1' });
    const a2 = await entra.userToken('alice', { sid: 's-a2' });
    const b = await entra.userToken('bob', { sid: 's-b' });
    for (const t of [a1, a2, b]) assert.equal(await outcome(auth, t), 'ok');
    assert.equal(auth.evict({}), 0);
    assert.equal(auth.evict({ sessionId: 's-a2' }), 1);
    assert.equal(auth.evict({ subject: `${entra.issuer}#alice` }), 1);
    assert.equal(auth.evict({ tokenHash: createHash('sha256').update(b).digest('hex') }), 1);
    assert.equal(auth.evict({ subject: `${entra.issuer}#bob` }), 0);
  });

  it('a cached token expires with the token', async () => {
    let clock = Date.now();
    const auth = make([base(entra)], { now: () => clock });
    const now = Math.floor(clock / 1000);
    const token = await sign(
      { iss: entra.issuer, aud: entra.audience, sub: 'alice', iat: now, exp: now + 30 },
      { alg: 'ES256', kid: entra.key.kid },
      entra.key.privateKey,
    );
    assert.equal(await outcome(auth, token), 'ok');
    clock += 60_000;
    assert.equal(await outcome(auth, token), '401 unauthenticated expired');
  });

  it('config: the new issuer keys parse; HMAC and none stay impossible', () => {
    const yaml = (algorithms: string) => `
identity:
  issuers:
    - issuer: https://login.example/tenant/v2.0
      audience: api://ztgate
      algorithms: ${algorithms}
      jwksCooldownSeconds: 60
      requiredClaims: [sub, exp, iat]
      requiredClaimValues: { tid: 0000-1111 }
      claims: { subject: oid, roles: realm_access.roles, department: dept, clearance: clearance, homeRegion: region }
      serviceClaim: { claim: idtyp, values: [app] }
`;
    const issuer = parseConfig(yaml('[RS256]')).identity.issuers[0]!;
    assert.equal(issuer.claims?.subject, 'oid');
    assert.equal(issuer.claims?.email, 'email');
    assert.equal(issuer.jwksCooldownSeconds, 60);
    assert.throws(() => parseConfig(yaml('[HS256]')), /algorithms/);
    assert.throws(() => parseConfig(yaml('[none]')), /algorithms/);
  });
});
