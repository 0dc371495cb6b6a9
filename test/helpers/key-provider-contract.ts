/**
 * The contract every KeyProvider passes (local, pkcs11 on SoftHSM2, vault-transit against the
 * Vault API stub). Each provider's test file calls `keyProviderContract` with a factory that
 * returns a fresh, empty provider.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isKeyError, type KeyErrorCode } from '../../src/keys/errors.js';
import { publicKeyFrom, verifyWithPublicKey } from '../../src/keys/public-key.js';
import type { KeyAlgorithm, KeyProvider } from '../../src/keys/types.js';
import { createPublicKey } from 'node:crypto';

export interface ContractOptions {
  /** Returns a fresh provider with no keys; the contract closes it. */
  readonly open: () => Promise<KeyProvider>;
  /** False for providers that can only disable/destroy the oldest versions first (Vault). */
  readonly anyOrderRetire?: boolean;
}

export async function rejectsWith(promise: Promise<unknown>, code: KeyErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isKeyError(err), `expected a KeyError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

async function withProvider(
  options: ContractOptions,
  body: (p: KeyProvider) => Promise<void>,
): Promise<void> {
  const provider = await options.open();
  try {
    await body(provider);
  } finally {
    await provider.close();
  }
}

const SIGNING: readonly Exclude<KeyAlgorithm, 'aes-256-gcm'>[] = ['ed25519', 'ecdsa-p256', 'ecdsa-p384'];
const AAD = Buffer.from('tenant=acme;purpose=test');

export function keyProviderContract(label: string, options: ContractOptions): void {
  describe(`KeyProvider contract: ${label}`, () => {
    it('creates keys of every algorithm at version 1, lists and describes them', async () => {
      await withProvider(options, async (p) => {
        for (const algorithm of ['aes-256-gcm', ...SIGNING] as const) {
          const info = await p.createKey(`k-${algorithm}`, algorithm);
          assert.equal(info.name, `k-${algorithm}`);
          assert.equal(info.algorithm, algorithm);
          assert.equal(info.primaryVersion, 1);
          assert.equal(info.versions.length, 1);
          assert.equal(info.versions[0]?.state, 'active');
          assert.ok(!Number.isNaN(Date.parse(info.versions[0]?.createdAt ?? '')));
        }
        const names = (await p.listKeys()).map((k) => k.name).sort();
        assert.deepEqual(names, ['k-aes-256-gcm', 'k-ecdsa-p256', 'k-ecdsa-p384', 'k-ed25519']);
        assert.equal((await p.describeKey('k-ed25519')).algorithm, 'ed25519');
        await rejectsWith(p.createKey('k-ed25519', 'ed25519'), 'key_exists');
        await rejectsWith(p.createKey('Bad Name', 'ed25519'), 'invalid_argument');
        await rejectsWith(p.describeKey('nope'), 'key_not_found');
        await p.ping();
      });
    });

    it('wraps and unwraps data keys; other AAD, tampering and misuse are refused', async () => {
      await withProvider(options, async (p) => {
        await p.createKey('kek', 'aes-256-gcm');
        await p.createKey('signer', 'ed25519');
        const dataKey = randomBytes(32);
        const wrapped = await p.wrapKey('kek', dataKey, AAD);
        assert.deepEqual(wrapped.keyId, { name: 'kek', version: 1 });
        assert.ok(!wrapped.bytes.includes(dataKey), 'the wrapped form must not contain the key');
        assert.deepEqual(await p.unwrapKey(wrapped, AAD), dataKey);
        await rejectsWith(p.unwrapKey(wrapped, Buffer.from('tenant=other;purpose=test')), 'unwrap_failed');
        const tampered = Buffer.from(wrapped.bytes);
        tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
        await rejectsWith(p.unwrapKey({ ...wrapped, bytes: tampered }, AAD), 'unwrap_failed');
        await rejectsWith(
          p.unwrapKey({ ...wrapped, bytes: wrapped.bytes.subarray(0, 5) }, AAD),
          'unwrap_failed',
        );
        await rejectsWith(p.wrapKey('signer', dataKey, AAD), 'key_wrong_type');
        await rejectsWith(p.sign('kek', Buffer.from('x')), 'key_wrong_type');
        await rejectsWith(p.wrapKey('nope', dataKey, AAD), 'key_not_found');
        await rejectsWith(
          p.unwrapKey({ keyId: { name: 'kek', version: 9 }, bytes: wrapped.bytes }, AAD),
          'key_version_not_found',
        );
        if (p.generateDataKey) {
          const generated = await p.generateDataKey('kek', AAD);
          assert.equal(generated.plaintext.length, 32);
          assert.deepEqual(await p.unwrapKey(generated.wrapped, AAD), generated.plaintext);
        }
      });
    });

    it('rotates: the new version wraps and signs, older versions still unwrap and verify', async () => {
      await withProvider(options, async (p) => {
        await p.createKey('kek', 'aes-256-gcm');
        await p.createKey('signer', 'ecdsa-p256');
        const dataKey = randomBytes(32);
        const old = await p.wrapKey('kek', dataKey, AAD);
        const oldSig = await p.sign('signer', Buffer.from('hello'));
        const rotated = await p.rotateKey('kek');
        assert.equal(rotated.primaryVersion, 2);
        assert.deepEqual(
          rotated.versions.map((v) => [v.version, v.state]),
          [
            [1, 'active'],
            [2, 'active'],
          ],
        );
        await p.rotateKey('signer');
        const fresh = await p.wrapKey('kek', dataKey, AAD);
        assert.equal(fresh.keyId.version, 2);
        assert.deepEqual(await p.unwrapKey(old, AAD), dataKey);
        assert.deepEqual(await p.unwrapKey(fresh, AAD), dataKey);
        const newSig = await p.sign('signer', Buffer.from('hello'));
        assert.equal(newSig.keyId.version, 2);
        assert.equal(await p.verify(oldSig.keyId, Buffer.from('hello'), oldSig.signature), true);
        assert.equal(await p.verify(newSig.keyId, Buffer.from('hello'), newSig.signature), true);
        assert.equal(await p.verify(newSig.keyId, Buffer.from('hello'), oldSig.signature), false);
        if (p.rewrapKey) {
          const rewrapped = await p.rewrapKey(old, AAD);
          assert.equal(rewrapped.keyId.version, 2);
          assert.deepEqual(await p.unwrapKey(rewrapped, AAD), dataKey);
        }
      });
    });

    it('signs with every signing algorithm in the documented format, verifiable offline', async () => {
      await withProvider(options, async (p) => {
        const data = Buffer.from('tree head 42');
        for (const algorithm of SIGNING) {
          await p.createKey(`s-${algorithm}`, algorithm);
          const { keyId, signature } = await p.sign(`s-${algorithm}`, data);
          assert.deepEqual(keyId, { name: `s-${algorithm}`, version: 1 });
          assert.equal(await p.verify(keyId, data, signature), true);
          assert.equal(await p.verify(keyId, Buffer.from('tree head 43'), signature), false);
          const exported = await p.publicKey(keyId);
          assert.equal(exported.algorithm, algorithm);
          assert.equal(exported.jwk.kid, `s-${algorithm}@1`);
          // Anyone can verify with the exported key alone, from the PEM and from the JWK.
          assert.equal(
            verifyWithPublicKey(algorithm, publicKeyFrom(exported.spkiPem), data, signature),
            true,
          );
          const fromJwk = createPublicKey({ key: { ...exported.jwk }, format: 'jwk' });
          assert.equal(verifyWithPublicKey(algorithm, fromJwk, data, signature), true);
        }
        await rejectsWith(p.publicKey({ name: 's-ed25519', version: 2 }), 'key_version_not_found');
      });
    });

    it('disables and enables versions; the primary cannot be disabled', async () => {
      await withProvider(options, async (p) => {
        await p.createKey('kek', 'aes-256-gcm');
        const dataKey = randomBytes(32);
        const v1 = await p.wrapKey('kek', dataKey, AAD);
        await p.rotateKey('kek');
        await rejectsWith(p.disableVersion({ name: 'kek', version: 2 }), 'unsupported_operation');
        const info = await p.disableVersion({ name: 'kek', version: 1 });
        assert.equal(info.versions[0]?.state, 'disabled');
        await rejectsWith(p.unwrapKey(v1, AAD), 'key_disabled');
        await p.enableVersion({ name: 'kek', version: 1 });
        assert.deepEqual(await p.unwrapKey(v1, AAD), dataKey);
      });
    });

    it('destroys versions irreversibly: their data keys are gone, other versions still work', async () => {
      await withProvider(options, async (p) => {
        await p.createKey('kek', 'aes-256-gcm');
        await p.createKey('signer', 'ed25519');
        const dk1 = randomBytes(32);
        const dk2 = randomBytes(32);
        const v1 = await p.wrapKey('kek', dk1, AAD);
        const s1 = await p.sign('signer', Buffer.from('x'));
        await p.rotateKey('kek');
        await p.rotateKey('signer');
        const v2 = await p.wrapKey('kek', dk2, AAD);
        await rejectsWith(p.destroyVersion({ name: 'kek', version: 2 }), 'unsupported_operation');
        const info = await p.destroyVersion({ name: 'kek', version: 1 });
        assert.equal(info.versions[0]?.state, 'destroyed');
        assert.equal(info.versions[1]?.state, 'active');
        await rejectsWith(p.unwrapKey(v1, AAD), 'key_destroyed');
        await rejectsWith(p.enableVersion({ name: 'kek', version: 1 }), 'key_destroyed');
        assert.deepEqual(await p.unwrapKey(v2, AAD), dk2);
        await p.destroyVersion({ name: 'signer', version: 1 });
        await rejectsWith(p.verify(s1.keyId, Buffer.from('x'), s1.signature), 'key_destroyed');
        await rejectsWith(p.publicKey(s1.keyId), 'key_destroyed');
        assert.equal((await p.describeKey('kek')).versions.find((v) => v.version === 1)?.state, 'destroyed');
        if (options.anyOrderRetire !== false) {
          await p.rotateKey('kek');
          const mid = await p.destroyVersion({ name: 'kek', version: 2 });
          assert.deepEqual(
            mid.versions.map((v) => v.state),
            ['destroyed', 'destroyed', 'active'],
          );
        }
      });
    });
  });
}
