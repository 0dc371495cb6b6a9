// Service callers in the authenticate stage: API keys from the real store, mTLS client
// certificates by SPIFFE ID, and revocation of each through the revocation list.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isZtError, type ClientCertificate, type Credentials } from '../../src/core/index.js';
import { ApiKeyVerifier, createApiKey } from '../../src/identity/api-keys.js';
import { createAuthenticator } from '../../src/identity/authenticate.js';
import { RevocationList } from '../../src/identity/revocation-list.js';
import { createBus, createStore, type StateBus, type Store } from '../../src/store/index.js';

const CERT: ClientCertificate = {
  spiffeId: 'spiffe://corp.example/service/billing',
  serialNumber: '0A1B2C',
  fingerprint256: 'AA:BB',
  notAfter: Math.floor(Date.now() / 1000) + 3600,
};

function credentials(extra: Partial<Credentials>): Credentials {
  return { bearer: undefined, headers: {}, remoteAddress: '127.0.0.1', ...extra };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isZtError(err), String(err));
    return `${err.code} ${err.logDetail ?? ''}`.trim();
  }
  return 'accepted';
}

describe('service credentials in the authenticate stage', () => {
  let home: string;
  let store: Store;
  let bus: StateBus;
  let revocations: RevocationList;
  let authenticate: ReturnType<typeof createAuthenticator>;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'ztgate-auth-services-'));
    store = await createStore({ url: 'sqlite:ztgate.db', home });
    bus = await createBus({ url: 'memory:', keyPrefix: 'test:' });
    revocations = new RevocationList({ bus });
    await revocations.start();
    authenticate = createAuthenticator({
      issuers: [],
      maxTokenBytes: 8192,
      tokenCacheSize: 100,
      jwksTimeoutMs: 1000,
      apiKeys: new ApiKeyVerifier({ repository: store.apiKeys, revocations }),
      clientCertificates: { allowedSpiffeIds: ['spiffe://corp.example/service/*'] },
      isRevoked: (who) => revocations.isRevoked(who),
    });
  });
  after(async () => {
    await revocations.close();
    await bus.close();
    await store.close();
    await rm(home, { recursive: true, force: true });
  });

  it('accepts a service API key as a service principal, refuses bad, expired and revoked ones', async () => {
    const { key, record } = await createApiKey(store.apiKeys, { service: 'billing', scopes: ['chat'] });
    const who = await authenticate({ requestId: 'r', credentials: credentials({ bearer: key }) });
    assert.equal(who.principal.kind, 'service');
    assert.equal(who.principal.authMethod, 'api_key');
    assert.equal(who.principal.id, 'service:billing');
    const forged = key.slice(0, -4) + (key.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.equal(
      await refusal(authenticate({ requestId: 'r', credentials: credentials({ bearer: forged }) })),
      'unauthenticated api_key_invalid_secret',
    );
    const past = new Date(Date.now() - 60_000);
    const expired = await createApiKey(store.apiKeys, {
      service: 'old',
      expiresAt: new Date(past.getTime() + 1000),
      now: past,
    });
    assert.equal(
      await refusal(authenticate({ requestId: 'r', credentials: credentials({ bearer: expired.key }) })),
      'unauthenticated api_key_expired',
    );
    await revocations.revoke({ kind: 'apikey', value: record.id, actor: 'test' });
    assert.match(
      await refusal(authenticate({ requestId: 'r', credentials: credentials({ bearer: key }) })),
      /^unauthenticated (api_key_)?revoked$/,
    );
  });

  it('accepts a client certificate with an allowed SPIFFE ID, refuses others and revoked serials', async () => {
    const who = await authenticate({ requestId: 'r', credentials: credentials({ clientCertificate: CERT }) });
    assert.equal(who.principal.kind, 'service');
    assert.equal(who.principal.authMethod, 'mtls');
    assert.equal(who.principal.id, CERT.spiffeId);
    assert.equal(
      await refusal(
        authenticate({
          requestId: 'r',
          credentials: credentials({
            clientCertificate: { ...CERT, spiffeId: 'spiffe://corp.example/user/eve' },
          }),
        }),
      ),
      'unauthenticated spiffe_id_not_allowed',
    );
    const { spiffeId: _drop, ...noId } = CERT;
    assert.equal(
      await refusal(authenticate({ requestId: 'r', credentials: credentials({ clientCertificate: noId }) })),
      'unauthenticated certificate_without_spiffe_id',
    );
    assert.equal(
      await refusal(authenticate({ requestId: 'r', credentials: credentials({}) })),
      'unauthenticated no_credentials',
    );
    await revocations.revoke({ kind: 'certificate', value: CERT.serialNumber, actor: 'test' });
    assert.equal(
      await refusal(authenticate({ requestId: 'r', credentials: credentials({ clientCertificate: CERT }) })),
      'unauthenticated revoked',
    );
  });
});

describe('a stale revocation list refuses rather than serves', () => {
  it('answers 503 authentication_unavailable once the list has not synchronised for 5 s', async () => {
    const { openIdentityService } = await import('../../src/gateway/identity-service.js');
    const { parseConfig } = await import('../../src/config/index.js');
    const { pino } = await import('pino');
    const home = await mkdtemp(join(tmpdir(), 'ztgate-auth-stale-'));
    const store = await createStore({ url: 'sqlite:ztgate.db', home });
    const bus = await createBus({ url: 'memory:', keyPrefix: 'stale:' });
    let now = Date.now();
    const revocations = new RevocationList({ bus, now: () => now });
    await revocations.start();
    const { createApiKey } = await import('../../src/identity/api-keys.js');
    const { key } = await createApiKey(store.apiKeys, { service: 'billing' });
    const identity = openIdentityService({
      config: parseConfig(''),
      issuers: [],
      store,
      revocations,
      logger: pino({ level: 'silent' }),
    });
    try {
      const ask = () => identity.authenticator({ requestId: 'r', credentials: credentials({ bearer: key }) });
      assert.equal((await ask()).principal.id, 'service:billing');
      // The bus stops answering: polls fail, the list keeps what it knew, and ages.
      const down = (): Promise<never> => Promise.reject(new Error('bus down'));
      Object.assign(bus, { get: down, increment: down });
      await revocations.resync().catch(() => undefined);
      now += 4000;
      assert.equal((await ask()).principal.id, 'service:billing', 'within 5 s it still serves');
      now += 2000;
      assert.equal(await refusal(ask()), 'authentication_unavailable revocation_unavailable');
    } finally {
      await identity.close();
      await revocations.close();
      await bus.close();
      await store.close();
      await rm(home, { recursive: true, force: true });
    }
  });
});
