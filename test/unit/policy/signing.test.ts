import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KeyError } from '../../../src/keys/errors.js';
import { formatKeyRef } from '../../../src/keys/key-id.js';
import { exportPublicKey, verifyWithPublicKey } from '../../../src/keys/public-key.js';
import type { KeyAlgorithm, KeyInfo, KeyRef, KeySignature } from '../../../src/keys/types.js';
import { loadBundle } from '../../../src/policy/bundle.js';
import {
  BUNDLE_SIGNATURE_FILE,
  pae,
  PolicySignatureError,
  requireSignedBundle,
  signBundle,
  verifyBundleSignature,
  type DsseEnvelope,
} from '../../../src/policy/signing.js';

const DEFAULT = fileURLToPath(new URL('../../../examples/policies/default', import.meta.url));

type Alg = 'ed25519' | 'ecdsa-p256';

/** A KeyManager-like in-memory signer (ed25519 and ecdsa-p256, IEEE P1363 signatures). */
class FakeKeys {
  readonly keys = new Map<
    string,
    { algorithm: Alg; versions: { privateKey: KeyObject; publicKey: KeyObject }[] }
  >();
  created: string[] = [];

  create(name: string, algorithm: Alg): void {
    const pair =
      algorithm === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.keys.set(name, { algorithm, versions: [pair] });
  }

  ensureKey(name: string, algorithm: KeyAlgorithm, actor: string): Promise<KeyInfo> {
    if (!this.keys.has(name)) {
      this.create(name, algorithm as Alg);
      this.created.push(`${name}:${algorithm}:${actor}`);
    }
    return Promise.resolve({} as KeyInfo);
  }

  sign(name: string, data: Uint8Array): Promise<KeySignature> {
    const key = this.keys.get(name);
    if (!key) return Promise.reject(new KeyError('key_not_found', `no key ${name}`));
    const version = key.versions.length;
    const { privateKey } = key.versions[version - 1] as { privateKey: KeyObject };
    const signature =
      key.algorithm === 'ed25519'
        ? nodeSign(null, data, privateKey)
        : nodeSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return Promise.resolve({ keyId: { name, version }, signature });
  }

  verify(ref: KeyRef, data: Uint8Array, sig: Uint8Array): Promise<boolean> {
    const key = this.keys.get(ref.name);
    const version = key?.versions[ref.version - 1];
    if (!key || !version) return Promise.reject(new KeyError('key_not_found', formatKeyRef(ref)));
    return Promise.resolve(verifyWithPublicKey(key.algorithm, version.publicKey, data, sig));
  }

  publicPem(ref: KeyRef): string {
    const key = this.keys.get(ref.name);
    const version = key?.versions[ref.version - 1];
    assert.ok(key && version);
    return exportPublicKey(ref, key.algorithm, version.publicKey).spkiPem;
  }
}

describe('policy bundle signing', () => {
  let work: string;
  let n = 0;
  const copy = async (): Promise<string> => {
    const dir = join(work, `b${n++}`);
    await cp(DEFAULT, dir, { recursive: true });
    return dir;
  };
  const readEnvelope = async (dir: string): Promise<DsseEnvelope> =>
    JSON.parse(await readFile(join(dir, BUNDLE_SIGNATURE_FILE), 'utf8')) as DsseEnvelope;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ztgate-signing-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('PAE is DSSEv1 SP len(type) SP type SP len(body) SP body (byte lengths)', () => {
    assert.equal(pae('t/x', Buffer.from('hé')).toString('utf8'), 'DSSEv1 3 t/x 3 hé');
  });

  it('signs (creating the key) and verifies; the signature file is not in the digest', async () => {
    const dir = await copy();
    const before = (await loadBundle(dir)).digest;
    const keys = new FakeKeys();
    const envelope = await signBundle(dir, keys, undefined, { actor: 'test' });
    assert.deepEqual(keys.created, ['policy-signing:ed25519:test']);
    assert.equal((await loadBundle(dir)).digest, before);
    assert.deepEqual(await readEnvelope(dir), envelope);
    assert.equal(envelope.signatures.length, 1);
    assert.equal(envelope.signatures[0]?.keyid, 'policy-signing@1');
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as Record<
      string,
      string
    >;
    assert.equal(statement._type, 'https://ztgate.dev/policy-bundle/v1');
    assert.equal(statement.digest, before);
    const r = await verifyBundleSignature(dir, keys);
    assert.equal(r.valid, true, r.detail);
    assert.equal(r.signed, true);
    assert.equal(r.keyId, 'policy-signing@1');
    assert.equal(r.digest, before);
    const ok = await requireSignedBundle({ dir, digest: before }, keys);
    assert.equal(ok.keyId, 'policy-signing@1');
  });

  it('ecdsa-p256 keys sign too; offline verification with only the public PEM', async () => {
    const dir = await copy();
    const keys = new FakeKeys();
    keys.create('policy-signing', 'ecdsa-p256');
    await signBundle(dir, keys);
    const ref = { name: 'policy-signing', version: 1 };
    const r = await verifyBundleSignature(dir, { 'policy-signing@1': keys.publicPem(ref) });
    assert.equal(r.valid, true, r.detail);
    const ed = new FakeKeys();
    const dir2 = await copy();
    await signBundle(dir2, ed);
    const pem = ed.publicPem(ref);
    assert.equal((await verifyBundleSignature(dir2, new Map([['policy-signing@1', pem]]))).valid, true);
  });

  it('a policy changed after signing: digest_mismatch', async () => {
    const dir = await copy();
    const keys = new FakeKeys();
    await signBundle(dir, keys);
    const file = join(dir, 'policies.cedar');
    await writeFile(file, (await readFile(file, 'utf8')) + '\n// changed\n');
    const r = await verifyBundleSignature(dir, keys);
    assert.equal(r.valid, false);
    assert.equal(r.reason, 'digest_mismatch');
    await assert.rejects(
      requireSignedBundle(dir, keys),
      (err: unknown) =>
        err instanceof PolicySignatureError &&
        err.code === 'policy.digest_mismatch' &&
        err.reason === 'digest_mismatch',
    );
  });

  it('a flipped signature byte: signature_invalid', async () => {
    const dir = await copy();
    const keys = new FakeKeys();
    const envelope = await signBundle(dir, keys);
    const sig = Buffer.from(envelope.signatures[0]?.sig ?? '', 'base64');
    sig[10] = (sig[10] as number) ^ 1;
    const tampered = {
      ...envelope,
      signatures: [{ keyid: 'policy-signing@1', sig: sig.toString('base64') }],
    };
    await writeFile(join(dir, BUNDLE_SIGNATURE_FILE), JSON.stringify(tampered));
    const r = await verifyBundleSignature(dir, keys);
    assert.equal(r.reason, 'signature_invalid');
    assert.equal(r.signed, true);
    assert.equal(r.valid, false);
    const pem = keys.publicPem({ name: 'policy-signing', version: 1 });
    assert.equal((await verifyBundleSignature(dir, { 'policy-signing@1': pem })).reason, 'signature_invalid');
  });

  it('a changed payload (another digest) does not verify: signature_invalid', async () => {
    const dir = await copy();
    const keys = new FakeKeys();
    const envelope = await signBundle(dir, keys);
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as Record<
      string,
      string
    >;
    statement.digest = `sha256:${'0'.repeat(64)}`;
    const forged = { ...envelope, payload: Buffer.from(JSON.stringify(statement)).toString('base64') };
    await writeFile(join(dir, BUNDLE_SIGNATURE_FILE), JSON.stringify(forged));
    assert.equal((await verifyBundleSignature(dir, keys)).reason, 'signature_invalid');
  });

  it('no signature file: signature_missing', async () => {
    const dir = await copy();
    const r = await verifyBundleSignature(dir, new FakeKeys());
    assert.deepEqual([r.signed, r.valid, r.reason], [false, false, 'signature_missing']);
    await assert.rejects(requireSignedBundle(dir, new FakeKeys()), /policy\.signature_missing/);
  });

  it('garbage or misshapen envelopes: signature_malformed', async () => {
    const dir = await copy();
    const keys = new FakeKeys();
    const envelope = await signBundle(dir, keys);
    const bad = [
      '{not json',
      '[]',
      JSON.stringify({ ...envelope, payloadType: 'text/plain' }),
      JSON.stringify({ ...envelope, signatures: [] }),
      JSON.stringify({ ...envelope, signatures: [{ keyid: 'Not A Ref', sig: 'AAAA' }] }),
      JSON.stringify({ ...envelope, payload: Buffer.from('{"_type":"x"}').toString('base64') }),
      JSON.stringify({ ...envelope, payload: '***' }),
    ];
    for (const text of bad) {
      await writeFile(join(dir, BUNDLE_SIGNATURE_FILE), text);
      const r = await verifyBundleSignature(dir, keys);
      assert.equal(r.reason, 'signature_malformed', text);
      assert.equal(r.signed, true);
    }
  });

  it('a signature by another key: key_unknown (untrusted) or signature_invalid (wrong key)', async () => {
    const dir = await copy();
    const keys = new FakeKeys();
    const other = new FakeKeys();
    await signBundle(dir, other, 'release-signing');
    // Not in the provider, or not a policy signing key name, or not among the trusted keys.
    assert.equal((await verifyBundleSignature(dir, keys)).reason, 'key_unknown');
    keys.create('release-signing', 'ed25519');
    assert.equal((await verifyBundleSignature(dir, keys)).reason, 'key_unknown');
    assert.equal(
      (await verifyBundleSignature(dir, keys, { keyNames: ['release-signing'] })).reason,
      'signature_invalid',
    );
    assert.equal((await verifyBundleSignature(dir, other, { keyNames: ['release-signing'] })).valid, true);
    const pem = keys.publicPem({ name: 'release-signing', version: 1 });
    assert.equal((await verifyBundleSignature(dir, { 'policy-signing@1': pem })).reason, 'key_unknown');
    assert.equal(
      (await verifyBundleSignature(dir, { 'release-signing@1': pem })).reason,
      'signature_invalid',
    );
    await assert.rejects(requireSignedBundle(dir, keys), /policy\.key_unknown/);
  });
});
