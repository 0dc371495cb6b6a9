import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { parseConfig, type IssuerConfig } from '../../src/config/index.js';
import { ZtError, type ClientCertificate, type Device } from '../../src/core/index.js';
import { createAuthenticator, type AuthenticatorOptions } from '../../src/identity/authenticate.js';
import type { DevicePostureConfig } from '../../src/identity/device-posture.js';
import { attackerKey, b64json } from '../helpers/oidc-attacker.js';
import { startTestDeviceService, type TestDeviceService } from '../helpers/oidc-device-service.js';
import { startTestOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';

/** Device posture assertions from a device-trust service, bound to users of a real OpenID provider. */
describe('authenticate: device posture', () => {
  let idp: TestOidcProvider;
  let mdm: TestDeviceService;
  let alice: string;
  let bob: string;
  const good = { sub: 'alice', device_id: 'dev-1', managed: true, compliant: true, os: 'macOS' };
  const posture = (over: Partial<DevicePostureConfig> = {}): DevicePostureConfig => ({
    enabled: true,
    issuer: mdm.issuer,
    audience: 'ztgate',
    algorithms: ['ES256'],
    clockSkewSeconds: 5,
    jwksCooldownSeconds: 30,
    header: 'x-device-posture',
    maxAgeSeconds: 300,
    binding: 'subject',
    required: true,
    onInvalid: 'refuse',
    onUnavailable: 'refuse',
    ...over,
  });
  const make = (over: Partial<DevicePostureConfig> = {}, extra: Partial<AuthenticatorOptions> = {}) => {
    const issuer: IssuerConfig = {
      issuer: idp.issuer,
      audience: idp.audience,
      algorithms: ['ES256'],
      clockSkewSeconds: 5,
      rolesClaim: 'roles',
      groupsClaim: 'groups',
    };
    const auth = createAuthenticator({
      issuers: [issuer],
      maxTokenBytes: 8192,
      tokenCacheSize: 100,
      jwksTimeoutMs: 1000,
      devicePosture: posture(over),
      ...extra,
    });
    /** The Device, or `<status> <code> <logDetail>`. */
    return async (
      bearer: string,
      assertion?: string | string[],
      cert?: ClientCertificate,
    ): Promise<Device | string | undefined> => {
      const headers = assertion === undefined ? {} : { 'x-device-posture': assertion };
      const credentials = {
        bearer,
        headers,
        remoteAddress: undefined,
        ...(cert ? { clientCertificate: cert } : {}),
      };
      try {
        return (await auth({ requestId: 'r', credentials })).device;
      } catch (err) {
        if (err instanceof ZtError) return `${err.status} ${err.code} ${err.logDetail}`;
        throw err;
      }
    };
  };
  const now = () => Math.floor(Date.now() / 1000);
  /** Each bad assertion and the reason it must be refused (or marked untrusted) for. */
  const badCases = async (): Promise<[string, string | string[] | undefined, string][]> => {
    const evil = await attackerKey();
    return [
      ['missing', undefined, 'missing'],
      ['garbage', 'not-a-jwt', 'malformed'],
      ['two headers', [await mdm.assert(good), await mdm.assert(good)], 'malformed'],
      ['managed is not a boolean', await mdm.assert({ ...good, managed: 'yes' }), 'malformed'],
      ['no device_id', await mdm.assert({ ...good, device_id: undefined }), 'malformed'],
      ['too old (iat)', await mdm.assert({ ...good, iat: now() - 400, exp: now() + 300 }), 'stale'],
      ['expired', await mdm.assert({ ...good, iat: now() - 100, exp: now() - 30 }), 'stale'],
      ['no iat', await mdm.assert({ ...good, iat: undefined }), 'malformed'],
      ['another user', await mdm.assert({ ...good, sub: 'bob' }), 'unbound'],
      [
        'signed by another key under the real kid',
        await mdm.assert(good, { key: evil.privateKey }),
        'forged',
      ],
      ['unknown kid', await mdm.assert(good, { key: evil.privateKey, header: { kid: evil.kid } }), 'forged'],
      ['alg none', `${b64json({ alg: 'none' })}.${b64json({ ...good, iss: mdm.issuer })}.`, 'forged'],
      ['jku injection', await mdm.assert(good, { header: { jku: 'http://127.0.0.1:9/jwks' } }), 'forged'],
      ['another issuer', await mdm.assert({ ...good, iss: 'https://evil.example' }), 'forged'],
      ['another audience', await mdm.assert({ ...good, aud: 'someone-else' }), 'invalid'],
    ];
  };

  before(async () => {
    idp = await startTestOidcProvider();
    mdm = await startTestDeviceService('ztgate');
    alice = await idp.userToken('alice');
    bob = await idp.userToken('bob');
  });
  after(async () => {
    await Promise.all([idp.close(), mdm.close()]);
  });

  it('a fresh, bound, correctly signed assertion gives a verified Device', async () => {
    const check = make();
    const claims = {
      ...good,
      os_version: '14.5',
      patch_age_days: 3,
      disk_encrypted: true,
      edr_running: false,
    };
    assert.deepEqual(await check(alice, await mdm.assert(claims)), {
      id: 'dev-1',
      trust: 'verified',
      managed: true,
      compliant: true,
      attributes: { os: 'macOS', osVersion: '14.5', patchAgeDays: 3, diskEncrypted: true, edrRunning: false },
    });
    assert.ok(mdm.hits('/.well-known/openid-configuration') >= 1, 'keys found by discovery');
  });

  it('onInvalid: refuse → 401 with posture_<reason> for each bad assertion', async () => {
    const check = make();
    for (const [name, assertion, reason] of await badCases()) {
      assert.equal(await check(alice, assertion), `401 unauthenticated posture_${reason}`, name);
    }
  });

  it('onInvalid: untrusted → an untrusted Device with the reason, for each bad assertion', async () => {
    const check = make({ onInvalid: 'untrusted' });
    for (const [name, assertion, reason] of await badCases()) {
      assert.deepEqual(
        await check(alice, assertion),
        {
          id: 'unknown',
          trust: 'untrusted',
          untrustedReason: `posture_${reason}`,
          managed: false,
          compliant: false,
          attributes: {},
        },
        name,
      );
    }
  });

  it('required: false lets a request without an assertion through as untrusted, but still refuses a forged one', async () => {
    const check = make({ required: false });
    assert.equal(((await check(alice)) as Device).untrustedReason, 'posture_missing');
    const evil = await attackerKey();
    assert.equal(
      await check(alice, await mdm.assert(good, { key: evil.privateKey })),
      '401 unauthenticated posture_forged',
    );
  });

  it('a cached assertion is still bound per request and still goes stale', async () => {
    let clock = Date.now();
    const check = make({}, { now: () => clock });
    const assertion = await mdm.assert(good);
    assert.equal(((await check(alice, assertion)) as Device).trust, 'verified');
    assert.equal(await check(bob, assertion), '401 unauthenticated posture_unbound');
    clock += 299_000; // fresh still: from the cache
    assert.equal(((await check(alice, assertion)) as Device).trust, 'verified');
    clock += 7_000; // past maxAgeSeconds (300) + clockSkewSeconds (5)
    assert.equal(await check(alice, assertion), '401 unauthenticated posture_stale');
  });

  it('binding: cnf by sub_hash of the principal id, or by the mTLS certificate thumbprint', async () => {
    const check = make({ binding: 'cnf' });
    const subHash = (id: string) => createHash('sha256').update(id).digest('base64url');
    const device = { sub: 'dev-9', managed: true, compliant: true };
    const byUser = await mdm.assert({ ...device, cnf: { sub_hash: subHash(`${idp.issuer}#alice`) } });
    assert.equal(((await check(alice, byUser)) as Device).id, 'dev-9');
    assert.equal(await check(bob, byUser), '401 unauthenticated posture_unbound');
    const der = Buffer.from('a client certificate');
    const cert: ClientCertificate = {
      serialNumber: '0a1b',
      fingerprint256: createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':'),
      notAfter: now() + 3600,
    };
    const byCert = await mdm.assert({
      ...device,
      cnf: { 'x5t#S256': createHash('sha256').update(der).digest('base64url') },
    });
    assert.equal(((await check(alice, byCert, cert)) as Device).trust, 'verified');
    assert.equal(await check(alice, byCert), '401 unauthenticated posture_unbound');
    const uncheckable = await mdm.assert({ ...device, cnf: { jkt: 'abc' } });
    assert.equal(await check(alice, uncheckable), '401 unauthenticated posture_unbound');
    assert.equal(await check(alice, await mdm.assert(device)), '401 unauthenticated posture_unbound');
    // In subject mode a cnf that is present must verify too.
    const subjectMode = make();
    const badCnf = await mdm.assert({ ...good, cnf: { sub_hash: subHash('someone') } });
    assert.equal(await subjectMode(alice, badCnf), '401 unauthenticated posture_unbound');
  });

  it('a device-trust service that cannot be reached: 503 by default, untrusted by config', async () => {
    const assertion = await mdm.assert(good);
    mdm.setDown(true);
    try {
      assert.equal(await make()(alice, assertion), '503 authentication_unavailable posture_unavailable');
      const marked = (await make({ onUnavailable: 'untrusted' })(alice, assertion)) as Device;
      assert.equal(marked.trust, 'untrusted');
      assert.equal(marked.untrustedReason, 'posture_unavailable');
    } finally {
      mdm.setDown(false);
    }
  });

  it('the revocation check sees a verified device id', async () => {
    const seen: (string | undefined)[] = [];
    const check = make({}, { isRevoked: (who) => (seen.push(who.deviceId), who.deviceId === 'dev-lost') });
    assert.equal(((await check(alice, await mdm.assert(good))) as Device).id, 'dev-1');
    assert.equal(
      await check(alice, await mdm.assert({ ...good, device_id: 'dev-lost' })),
      '401 unauthenticated revoked',
    );
    assert.deepEqual(seen, ['dev-1', 'dev-lost']);
  });

  it('disabled (the default): no device is reported', async () => {
    assert.equal(await make({ enabled: false })(alice, await mdm.assert(good)), undefined);
  });

  it('config: defaults, and issuer and audience are required when enabled', () => {
    const defaults = parseConfig('').identity.devicePosture;
    assert.equal(defaults.enabled, false);
    assert.equal(defaults.header, 'x-device-posture');
    assert.equal(defaults.maxAgeSeconds, 300);
    assert.equal(defaults.onInvalid, 'refuse');
    assert.throws(() => parseConfig('identity: { devicePosture: { enabled: true } }'), /issuer.*required/s);
    assert.throws(
      () =>
        parseConfig(
          'identity: { devicePosture: { enabled: true, issuer: https://mdm.example, header: authorization } }',
        ),
      /header/,
    );
  });
});
