// The vault-transit KeyProvider against the Vault API stub (test/helpers/vault-transit-stub.ts): a
// stand-in built from Vault's published API documentation, since Vault cannot run here.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { isKeyError } from '../../src/keys/errors.js';
import {
  createVaultTransitProvider,
  type VaultTransitOptions,
} from '../../src/keys/providers/vault-transit.js';
import type { KeyProvider } from '../../src/keys/types.js';
import { keyProviderContract, rejectsWith } from '../helpers/key-provider-contract.js';
import { startVaultStub, type VaultStub, type VaultStubRequest } from '../helpers/vault-transit-stub.js';

const TOKEN = 'hvs.stub-token-0123456789abcdef';
const AAD = Buffer.from('tenant=acme;purpose=test');
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

const stubs: VaultStub[] = [];
after(async () => {
  for (const stub of stubs) await stub.close();
});

async function stubAndProvider(
  extra: Partial<VaultTransitOptions> = {},
  stubMount?: string,
): Promise<{ stub: VaultStub; provider: KeyProvider }> {
  const stub = await startVaultStub({ token: TOKEN, ...(stubMount ? { mount: stubMount } : {}) });
  stubs.push(stub);
  const provider = await createVaultTransitProvider({ address: stub.address, token: TOKEN, ...extra });
  return { stub, provider };
}

keyProviderContract('vault-transit (Vault API stub)', {
  open: async () => (await stubAndProvider()).provider,
  anyOrderRetire: false,
});

/** The recorded requests to one path (under /v1/transit/ unless absolute), in order. */
function sent(stub: VaultStub, path: string, method = 'POST'): VaultStubRequest[] {
  const full = path.startsWith('/') ? path : `/v1/transit/${path}`;
  return stub.requests.filter((r) => r.path === full && r.method === method);
}

describe('vault-transit provider', () => {
  it('sends the documented requests: create, encrypt/decrypt with associated_data, sign and verify', async () => {
    const { stub, provider: p } = await stubAndProvider();
    try {
      await p.createKey('kek', 'aes-256-gcm');
      await p.createKey('s256', 'ecdsa-p256');
      await p.createKey('s384', 'ecdsa-p384');
      await p.createKey('sed', 'ed25519');
      assert.deepEqual(sent(stub, 'keys/kek')[0]?.body, { type: 'aes256-gcm96' });
      assert.deepEqual(sent(stub, 'keys/s384')[0]?.body, { type: 'ecdsa-p384' });

      const dataKey = randomBytes(32);
      const wrapped = await p.wrapKey('kek', dataKey, AAD);
      assert.match(wrapped.bytes.toString('utf8'), /^vault:v1:[A-Za-z0-9+/]+=*$/);
      // No key_version: Vault encrypts with the latest version.
      assert.deepEqual(sent(stub, 'encrypt/kek')[0]?.body, {
        plaintext: b64(dataKey),
        associated_data: b64(AAD),
      });
      assert.deepEqual(await p.unwrapKey(wrapped, AAD), dataKey);
      assert.deepEqual(sent(stub, 'decrypt/kek')[0]?.body, {
        ciphertext: wrapped.bytes.toString('utf8'),
        associated_data: b64(AAD),
      });

      const data = Buffer.from('tree head 7');
      const s384 = await p.sign('s384', data);
      assert.deepEqual(sent(stub, 'sign/s384/sha2-384')[0]?.body, {
        input: b64(data),
        marshaling_algorithm: 'jws',
      });
      assert.equal(s384.signature.length, 96);
      await p.sign('s256', data);
      assert.deepEqual(sent(stub, 'sign/s256/sha2-256')[0]?.body, {
        input: b64(data),
        marshaling_algorithm: 'jws',
      });
      const sed = await p.sign('sed', data);
      assert.deepEqual(sent(stub, 'sign/sed')[0]?.body, { input: b64(data) });

      assert.equal(await p.verify(s384.keyId, data, s384.signature), true);
      assert.deepEqual(sent(stub, 'verify/s384/sha2-384')[0]?.body, {
        input: b64(data),
        signature: `vault:v1:${s384.signature.toString('base64url')}`,
        marshaling_algorithm: 'jws',
      });
      assert.equal(await p.verify(sed.keyId, data, sed.signature), true);
      assert.deepEqual(sent(stub, 'verify/sed')[0]?.body, {
        input: b64(data),
        signature: `vault:v1:${sed.signature.toString('base64')}`,
      });

      assert.deepEqual(
        (await p.listKeys()).map((k) => k.name),
        ['kek', 's256', 's384', 'sed'],
      );
      assert.equal(sent(stub, 'keys', 'GET')[0]?.query, 'list=true');
      await p.ping();
      assert.equal(sent(stub, '/v1/auth/token/lookup-self', 'GET').length, 1);
    } finally {
      await p.close();
    }
  });

  it('retires versions oldest-first through config and trim; other orders are unsupported', async () => {
    const { stub, provider: p } = await stubAndProvider();
    try {
      await p.createKey('kek', 'aes-256-gcm');
      const v1 = await p.wrapKey('kek', randomBytes(32), AAD);
      await p.rotateKey('kek');
      await p.rotateKey('kek');
      assert.equal(sent(stub, 'keys/kek/rotate').length, 2);

      await rejectsWith(p.disableVersion({ name: 'kek', version: 2 }), 'unsupported_operation');
      await rejectsWith(p.destroyVersion({ name: 'kek', version: 2 }), 'unsupported_operation');
      assert.equal(sent(stub, 'keys/kek/config').length, 0, 'nothing is changed when refused');

      await p.disableVersion({ name: 'kek', version: 1 });
      assert.deepEqual(sent(stub, 'keys/kek/config')[0]?.body, { min_decryption_version: 2 });
      await p.disableVersion({ name: 'kek', version: 2 });
      await rejectsWith(p.enableVersion({ name: 'kek', version: 1 }), 'unsupported_operation');
      await p.enableVersion({ name: 'kek', version: 2 });
      assert.deepEqual(sent(stub, 'keys/kek/config')[2]?.body, { min_decryption_version: 2 });
      await rejectsWith(p.unwrapKey(v1, AAD), 'key_disabled');

      // Version 1 is already below min_decryption_version: only the encryption floor is raised before trim.
      let info = await p.destroyVersion({ name: 'kek', version: 1 });
      assert.deepEqual(sent(stub, 'keys/kek/config')[3]?.body, { min_encryption_version: 2 });
      assert.deepEqual(sent(stub, 'keys/kek/trim')[0]?.body, { min_available_version: 2 });
      assert.deepEqual(
        info.versions.map((v) => v.state),
        ['destroyed', 'active', 'active'],
      );
      await rejectsWith(p.unwrapKey(v1, AAD), 'key_destroyed');
      info = await p.destroyVersion({ name: 'kek', version: 2 });
      assert.deepEqual(sent(stub, 'keys/kek/config')[4]?.body, {
        min_decryption_version: 3,
        min_encryption_version: 3,
      });
      assert.deepEqual(sent(stub, 'keys/kek/trim')[1]?.body, { min_available_version: 3 });
      assert.deepEqual(
        info.versions.map((v) => v.state),
        ['destroyed', 'destroyed', 'active'],
      );
      await rejectsWith(p.destroyVersion({ name: 'kek', version: 3 }), 'unsupported_operation');
      const fresh = await p.wrapKey('kek', randomBytes(32), AAD);
      assert.equal(fresh.keyId.version, 3);
    } finally {
      await p.close();
    }
  });

  it('offers neither datakey nor rewrap: Vault binds no associated_data there', async () => {
    const { stub, provider: p } = await stubAndProvider();
    try {
      assert.equal(p.generateDataKey, undefined);
      assert.equal(p.rewrapKey, undefined);
      // What the stub (like Vault, path_rewrap.go) does with an AAD-bound ciphertext: the field is ignored.
      await p.createKey('kek', 'aes-256-gcm');
      const wrapped = await p.wrapKey('kek', randomBytes(32), AAD);
      await p.rotateKey('kek');
      const res = await fetch(`${stub.address}/v1/transit/rewrap/kek`, {
        method: 'POST',
        headers: { 'x-vault-token': TOKEN },
        body: JSON.stringify({ ciphertext: wrapped.bytes.toString('utf8'), associated_data: b64(AAD) }),
      });
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), { errors: ['cipher: message authentication failed'] });
    } finally {
      await p.close();
    }
  });

  it('a wrong token is provider_denied, and the token never shows in errors', async () => {
    const { stub } = await stubAndProvider();
    const wrong = 'hvs.wrong-token-fedcba9876543210';
    const p = await createVaultTransitProvider({ address: stub.address, token: wrong });
    try {
      for (const attempt of [p.ping(), p.describeKey('kek'), p.createKey('kek', 'ed25519'), p.listKeys()]) {
        await assert.rejects(attempt, (err: unknown) => {
          assert.ok(isKeyError(err, 'provider_denied'), String(err));
          assert.ok(!err.message.includes(wrong) && !err.message.includes(TOKEN), err.message);
          assert.match(err.message, /403/);
          return true;
        });
      }
    } finally {
      await p.close();
    }
  });

  it('an unreachable or silent Vault is provider_unreachable, quickly', async () => {
    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const refused = await createVaultTransitProvider({
      address: `http://127.0.0.1:${closedPort}`,
      token: TOKEN,
    });
    let started = Date.now();
    await rejectsWith(refused.ping(), 'provider_unreachable');
    await rejectsWith(refused.describeKey('kek'), 'provider_unreachable');
    assert.ok(Date.now() - started < 2000, 'a refused connection fails at once');
    await refused.close();

    // A peer that accepts and never answers: the per-request timeout applies.
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const slow = await createVaultTransitProvider({
      address: `http://127.0.0.1:${port}`,
      token: TOKEN,
      timeoutMs: 300,
    });
    started = Date.now();
    await assert.rejects(slow.ping(), (err: unknown) => {
      assert.ok(isKeyError(err, 'provider_unreachable'), String(err));
      assert.ok(!err.message.includes(TOKEN));
      return true;
    });
    assert.ok(Date.now() - started < 2000, 'the timeout is honoured');
    await slow.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('sends X-Vault-Namespace when configured, uses the configured mount, describes itself', async () => {
    const { stub, provider: p } = await stubAndProvider(
      { namespace: 'team-a', mount: 'ztgate-transit' },
      'ztgate-transit',
    );
    try {
      await p.createKey('kek', 'aes-256-gcm');
      assert.ok(stub.requests.length > 0);
      assert.ok(stub.requests.every((r) => r.namespace === 'team-a'));
      assert.ok(stub.requests.some((r) => r.path === '/v1/ztgate-transit/keys/kek'));
      assert.equal(p.kind, 'vault-transit');
      assert.equal(
        p.description,
        `vault-transit (${stub.address}, mount ztgate-transit): keys held by Vault, never exported`,
      );
      assert.ok(!p.description.includes(TOKEN));
    } finally {
      await p.close();
    }
    const plain = await stubAndProvider();
    await plain.provider.describeKey('nope').catch(() => undefined);
    assert.ok(plain.stub.requests.every((r) => r.namespace === undefined));
    await plain.provider.close();
    await rejectsWith(plain.provider.describeKey('nope'), 'provider_closed');
  });

  it('refuses bad options before talking to Vault', async () => {
    await rejectsWith(
      createVaultTransitProvider({ address: 'vault:8200', token: TOKEN }),
      'invalid_argument',
    );
    await rejectsWith(
      createVaultTransitProvider({ address: 'ftp://vault', token: TOKEN }),
      'invalid_argument',
    );
    await rejectsWith(
      createVaultTransitProvider({ address: 'https://vault', token: '' }),
      'invalid_argument',
    );
    await rejectsWith(
      createVaultTransitProvider({ address: 'https://vault', token: TOKEN, mount: '../sys' }),
      'invalid_argument',
    );
  });
  it('trusts only the configured CA for Vault over TLS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztgate-vault-tls-'));
    try {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      writeFileSync(join(dir, 'key.pem'), key);
      execFileSync('openssl', [
        'req',
        '-x509',
        '-new',
        '-key',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=vault-stub',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ]);
      const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      const stub = await startVaultStub({ token: TOKEN, tls: { key, cert } });
      stubs.push(stub);
      assert.match(stub.address, /^https:/);
      const trusted = await createVaultTransitProvider({ address: stub.address, token: TOKEN, caPem: cert });
      await trusted.createKey('kek', 'aes-256-gcm');
      const dataKey = randomBytes(32);
      assert.deepEqual(await trusted.unwrapKey(await trusted.wrapKey('kek', dataKey, AAD), AAD), dataKey);
      await trusted.close();
      // Without the CA the system CAs apply, and they do not know this certificate.
      const untrusted = await createVaultTransitProvider({ address: stub.address, token: TOKEN });
      await assert.rejects(untrusted.ping(), (err: unknown) => {
        assert.ok(isKeyError(err), String(err));
        assert.ok(['provider_unreachable', 'provider_error'].includes(err.code), err.code);
        assert.ok(!err.message.includes(TOKEN));
        return true;
      });
      await untrusted.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
