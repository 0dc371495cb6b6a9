import assert from 'node:assert/strict';
import {
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  webcrypto,
} from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KeyManager } from '../../../src/keys/key-manager.js';
import { x509 } from '../../../src/mesh/x509.js';
import { createLocalProvider } from '../../../src/keys/providers/local.js';
import {
  comparePaths,
  hashModel,
  isModelSigningError,
  keyManagerSigningKeys,
  keyProviderSigner,
  p1363ToDer,
  pae,
  privateKeySigner,
  signModel,
  verifyModel,
  type ModelSigningErrorCode,
  type ModelTrust,
} from '../../../src/runtime/model-signing/index.js';

const VECTORS = fileURLToPath(new URL('../../fixtures/model-signing/', import.meta.url));
const PUBLIC_KEY = join(VECTORS, 'keys/signing-key-pub.pem');
const CA = join(VECTORS, 'keys/ca-cert.pem');

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ztgate-model-signing-'));
  dirs.push(dir);
  return dir;
}
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

interface Vector {
  readonly name: string;
  /** The model path inside the vector dir ('' for the dir itself). */
  readonly model: string;
  readonly certificate: boolean;
  /** Ignore paths the caller passes (v1.0.x payloads do not record them). */
  readonly ignore: readonly string[];
}

const VECTOR_LIST: readonly Vector[] = [
  { name: 'v1.0.0-elliptic-key', model: 'signme-1', certificate: false, ignore: [] },
  { name: 'v1.0.1-elliptic-key', model: '', certificate: false, ignore: ['ignore-me'] },
  { name: 'v1.0.1-certificate', model: '', certificate: true, ignore: ['ignore-me'] },
  { name: 'v1.1.0-elliptic-key', model: '', certificate: false, ignore: [] },
  { name: 'v1.1.0-certificate', model: '', certificate: true, ignore: [] },
];

async function trustFor(vector: Vector): Promise<ModelTrust> {
  return vector.certificate
    ? { certificateChain: [await readFile(CA, 'utf8')] }
    : { publicKey: await readFile(PUBLIC_KEY, 'utf8') };
}

/** A writable copy of a vector. */
async function copyVector(vector: Vector): Promise<string> {
  const dir = join(await tempDir(), vector.name);
  await cp(join(VECTORS, vector.name), dir, { recursive: true });
  return dir;
}

function verifyVector(vector: Vector, dir: string, trust: ModelTrust, signature = join(dir, 'model.sig')) {
  return verifyModel(vector.model ? join(dir, vector.model) : dir, signature, {
    trust,
    ignorePaths: vector.ignore,
  });
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: ModelSigningErrorCode,
  file?: string,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isModelSigningError(err), `expected a ModelSigningError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (file !== undefined) {
      assert.equal(err.file, file);
      assert.match(err.message, new RegExp(file));
    }
    return true;
  });
}

/** A vector whose payload has at least two files (to edit one of them). */
const DIR_VECTORS = VECTOR_LIST.filter((v) => v.model === '');

describe('model signing: the sigstore/model-transparency vectors', () => {
  for (const vector of VECTOR_LIST) {
    it(`${vector.name} verifies`, async () => {
      const result = await verifyVector(vector, join(VECTORS, vector.name), await trustFor(vector));
      assert.equal(result.verified, true);
      assert.equal(result.signer.kind, vector.certificate ? 'certificate' : 'public-key');
      const names = result.manifest.items.map((i) => i.name);
      assert.deepEqual(names, vector.model ? ['.'] : ['signme-1', 'signme-2']);
      if (!vector.model) assert.ok(result.ignoredPaths.includes('ignore-me'));
    });
  }

  it('the v1.0.x vectors need ignore-me left out by the caller; v1.1.0 records it in the payload', async () => {
    const v101 = VECTOR_LIST[1] as Vector;
    await rejectsWith(
      verifyModel(join(VECTORS, v101.name), join(VECTORS, v101.name, 'model.sig'), {
        trust: await trustFor(v101),
      }),
      'file_unexpected',
      'ignore-me',
    );
    const v110 = VECTOR_LIST[3] as Vector;
    const result = await verifyModel(join(VECTORS, v110.name), join(VECTORS, v110.name, 'model.sig'), {
      trust: await trustFor(v110),
    });
    assert.ok(result.manifest.serialization.ignorePaths.includes('ignore-me'));
  });

  it('the v1.0.0 vector signs the single file signme-1, not its directory', async () => {
    const vector = VECTOR_LIST[0] as Vector;
    await rejectsWith(
      verifyModel(join(VECTORS, vector.name), join(VECTORS, vector.name, 'model.sig'), {
        trust: await trustFor(vector),
      }),
      'file_missing',
      '.',
    );
  });

  for (const vector of DIR_VECTORS) {
    it(`${vector.name}: a changed file is a digest_mismatch naming it`, async () => {
      const dir = await copyVector(vector);
      await writeFile(join(dir, 'signme-2'), 'tampered\n');
      await rejectsWith(verifyVector(vector, dir, await trustFor(vector)), 'digest_mismatch', 'signme-2');
    });

    it(`${vector.name}: an added file is file_unexpected, a removed one file_missing`, async () => {
      const dir = await copyVector(vector);
      await writeFile(join(dir, 'backdoor.py'), 'import os\n');
      await rejectsWith(verifyVector(vector, dir, await trustFor(vector)), 'file_unexpected', 'backdoor.py');
      await rm(join(dir, 'backdoor.py'));
      await mkdir(join(dir, 'sub'));
      await writeFile(join(dir, 'sub', 'extra.bin'), 'x');
      await rejectsWith(
        verifyVector(vector, dir, await trustFor(vector)),
        'file_unexpected',
        'sub/extra.bin',
      );
      await rm(join(dir, 'sub'), { recursive: true });
      await rm(join(dir, 'signme-1'));
      await rejectsWith(verifyVector(vector, dir, await trustFor(vector)), 'file_missing', 'signme-1');
    });

    it(`${vector.name}: a changed ignored file, and git files, still verify`, async () => {
      const dir = await copyVector(vector);
      await writeFile(join(dir, 'ignore-me'), 'anything at all\n');
      await mkdir(join(dir, '.git'));
      await writeFile(join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
      await writeFile(join(dir, '.gitattributes'), '*.bin filter=lfs\n');
      await verifyVector(vector, dir, await trustFor(vector));
    });

    it(`${vector.name}: a symlink in the model is refused`, async () => {
      const dir = await copyVector(vector);
      await symlink(join(dir, 'signme-1'), join(dir, 'link'));
      await rejectsWith(verifyVector(vector, dir, await trustFor(vector)), 'path_refused', 'link');
    });
  }

  for (const vector of VECTOR_LIST) {
    it(`${vector.name}: a wrong key or root is refused`, async () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
      if (vector.certificate) {
        // The intermediate alone is no root; another root is not this one.
        await rejectsWith(
          verifyVector(vector, join(VECTORS, vector.name), {
            certificateChain: [await readFile(join(VECTORS, 'keys/int-ca-cert.pem'), 'utf8')],
          }),
          'chain_invalid',
        );
        await rejectsWith(
          verifyVector(vector, join(VECTORS, vector.name), { certificateChain: [await selfSignedPem()] }),
          'chain_invalid',
        );
        // A bare public key that is not the certificate's.
        await rejectsWith(
          verifyVector(vector, join(VECTORS, vector.name), { publicKey: other }),
          'key_mismatch',
        );
        // The certificate's own key, given bare, verifies the signature.
        await verifyVector(vector, join(VECTORS, vector.name), {
          publicKey: await readFile(PUBLIC_KEY, 'utf8'),
        });
      } else {
        await rejectsWith(
          verifyVector(vector, join(VECTORS, vector.name), { publicKey: other }),
          'key_mismatch',
        );
        await rejectsWith(
          verifyVector(vector, join(VECTORS, vector.name), {
            certificateChain: [await readFile(CA, 'utf8')],
          }),
          'chain_invalid',
        );
      }
    });

    it(`${vector.name}: a changed payload or a flipped signature bit is signature_invalid`, async () => {
      const dir = await copyVector(vector);
      const original = await readFile(join(dir, 'model.sig'), 'utf8');
      const bundle = JSON.parse(original) as {
        dsseEnvelope: { payload: string; signatures: { sig: string }[] };
      };
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as {
        predicate: { resources: { digest: string }[] };
      };
      const resource = statement.predicate.resources[0] as { digest: string };
      resource.digest = resource.digest.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      const forged = structuredClone(bundle);
      forged.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement, null, 2)).toString('base64');
      await writeFile(join(dir, 'forged.sig'), JSON.stringify(forged));
      const trust = await trustFor(vector);
      await rejectsWith(verifyVector(vector, dir, trust, join(dir, 'forged.sig')), 'signature_invalid');

      const flipped = structuredClone(bundle);
      const sig = Buffer.from((bundle.dsseEnvelope.signatures[0] as { sig: string }).sig, 'base64');
      sig[sig.length - 5] = (sig[sig.length - 5] ?? 0) ^ 0x01;
      (flipped.dsseEnvelope.signatures[0] as { sig: string }).sig = sig.toString('base64');
      await writeFile(join(dir, 'flipped.sig'), JSON.stringify(flipped));
      await rejectsWith(verifyVector(vector, dir, trust, join(dir, 'flipped.sig')), 'signature_invalid');

      const payloadBit = structuredClone(bundle);
      const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
      payload[40] = (payload[40] ?? 0) ^ 0x02;
      payloadBit.dsseEnvelope.payload = payload.toString('base64');
      await writeFile(join(dir, 'bit.sig'), JSON.stringify(payloadBit));
      await rejectsWith(verifyVector(vector, dir, trust, join(dir, 'bit.sig')), 'signature_invalid');

      await writeFile(join(dir, 'junk.sig'), original.slice(0, 100));
      await rejectsWith(verifyVector(vector, dir, trust, join(dir, 'junk.sig')), 'payload_malformed');
    });
  }
});

/** A real root named like the vectors' root (CN=root-ca), with another key. */
async function selfSignedPem(): Promise<string> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, [
    'sign',
    'verify',
  ]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=root-ca',
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2035-01-01T00:00:00Z'),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  return cert.toString('pem');
}

async function makeModel(): Promise<string> {
  const dir = join(await tempDir(), 'my-model');
  await mkdir(join(dir, 'weights'), { recursive: true });
  await writeFile(join(dir, 'config.json'), '{"layers": 2}\n');
  await writeFile(join(dir, 'weights', 'a.safetensors'), Buffer.alloc(3 << 20, 7));
  await writeFile(join(dir, 'weights', 'b.safetensors'), 'b');
  await writeFile(join(dir, 'weights-extra'), 'sorted after weights/ by component');
  await writeFile(join(dir, 'README.md'), '# model\n');
  return dir;
}

describe('model signing: sign and verify round trips', () => {
  for (const curve of ['P-256', 'P-384'] as const) {
    it(`signs with a fresh ${curve} key; the signature verifies, names files in canonical order`, async () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const dir = await makeModel();
      const signed = await signModel(dir, {
        signer: privateKeySigner(privateKey),
        ignorePaths: ['README.md'],
      });
      assert.equal(signed.output, join(dir, 'model.sig'));
      assert.deepEqual(
        signed.manifest.items.map((i) => i.name),
        ['config.json', 'weights/a.safetensors', 'weights/b.safetensors', 'weights-extra'],
      );
      const bundle = JSON.parse(await readFile(signed.output, 'utf8')) as {
        mediaType: string;
        verificationMaterial: { publicKey: { hint: string } };
        dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string }[] };
      };
      assert.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
      assert.equal(bundle.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
      assert.match(bundle.verificationMaterial.publicKey.hint, /^[0-9a-f]{64}$/);
      const sig = Buffer.from((bundle.dsseEnvelope.signatures[0] as { sig: string }).sig, 'base64');
      assert.equal(sig[0], 0x30, 'DER-encoded ECDSA signature');
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as {
        _type: string;
        predicateType: string;
        subject: { name: string }[];
        predicate: { serialization: Record<string, unknown> };
      };
      assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
      assert.equal(statement.predicateType, 'https://model_signing/signature/v1.0');
      assert.equal(statement.subject[0]?.name, 'my-model');
      assert.deepEqual(statement.predicate.serialization, {
        method: 'files',
        hash_type: 'sha256',
        allow_symlinks: false,
        ignore_paths: ['.git', '.gitattributes', '.github', '.gitignore', 'README.md', 'model.sig'],
      });

      const result = await verifyModel(dir, signed.output, { trust: { publicKey } });
      assert.equal(result.modelName, 'my-model');
      await writeFile(join(dir, 'README.md'), 'changed: ignored');
      await verifyModel(dir, signed.output, { trust: { publicKey } });
      await writeFile(join(dir, 'weights', 'b.safetensors'), 'B');
      await rejectsWith(
        verifyModel(dir, signed.output, { trust: { publicKey } }),
        'digest_mismatch',
        'weights/b.safetensors',
      );
    });
  }

  it('signs with shards; a changed byte names its shard', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const dir = await makeModel();
    const signed = await signModel(dir, {
      signer: privateKeySigner(privateKey),
      method: 'shards',
      shardSize: 1 << 20,
    });
    assert.ok(signed.manifest.items.some((i) => i.name === 'weights/a.safetensors:2097152:3145728'));
    await verifyModel(dir, signed.output, { trust: { publicKey } });
    await writeFile(
      join(dir, 'weights', 'a.safetensors'),
      Buffer.concat([Buffer.alloc(3 << 20, 7).subarray(1), Buffer.from([8])]),
    );
    await rejectsWith(
      verifyModel(dir, signed.output, { trust: { publicKey } }),
      'digest_mismatch',
      'weights/a.safetensors:2097152:3145728',
    );
  });

  it('signs with Ed25519 (a ztgate extension) and refuses symlinks unless allowed', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const dir = await makeModel();
    await symlink(join(dir, 'config.json'), join(dir, 'config-link.json'));
    await rejectsWith(
      signModel(dir, { signer: privateKeySigner(privateKey) }),
      'path_refused',
      'config-link.json',
    );
    const signed = await signModel(dir, { signer: privateKeySigner(privateKey), allowSymlinks: true });
    assert.ok(signed.manifest.items.some((i) => i.name === 'config-link.json'));
    await verifyModel(dir, signed.output, { trust: { publicKey } });
  });

  it('signs with a KeyManager over the local provider (P1363 → DER), P-256 and P-384', async () => {
    const provider = await createLocalProvider({ dir: await tempDir(), env: {} });
    const keys = new KeyManager({
      provider,
      cache: { maxAgeMs: 60_000, maxUses: 100, maxBytes: 1 << 20, maxEntries: 0 },
    });
    try {
      for (const algorithm of ['ecdsa-p256', 'ecdsa-p384'] as const) {
        const name = `model-${algorithm}`;
        await keys.createKey(name, algorithm, 'test');
        await keys.rotateKey(name, 'test');
        const signer = await keyProviderSigner(keyManagerSigningKeys(keys, 'test'), name);
        assert.equal(signer.description, `key ${name}@2`);
        const dir = await makeModel();
        const output = join(await tempDir(), 'elsewhere.sig');
        await signModel(dir, { signer, output });
        const exported = await provider.publicKey({ name, version: 2 });
        const result = await verifyModel(dir, output, { trust: { publicKey: exported.spkiPem } });
        assert.equal(result.signer.kind, 'public-key');
        const older = await provider.publicKey({ name, version: 1 });
        await rejectsWith(verifyModel(dir, output, { trust: { publicKey: older.spkiPem } }), 'key_mismatch');
      }
      await keys.createKey('kek', 'aes-256-gcm', 'test');
      await rejectsWith(keyProviderSigner(keyManagerSigningKeys(keys, 'test'), 'kek'), 'key_unsupported');
    } finally {
      await keys.close();
    }
  });

  it('records a certificate chain; the leaf must hold the key', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const dir = await makeModel();
    const leaf = Buffer.from(
      (await readFile(join(VECTORS, 'keys/signing-key-cert.pem'), 'utf8')).replace(
        /-----[A-Z ]+-----|\s/g,
        '',
      ),
      'base64',
    );
    await rejectsWith(
      signModel(dir, { signer: privateKeySigner(privateKey), certificates: [leaf] }),
      'key_mismatch',
    );
  });
});

describe('model signing: building blocks', () => {
  it('PAE is DSSEv1 with byte lengths', () => {
    assert.equal(pae('a/b', Buffer.from('hé')).toString('utf8'), 'DSSEv1 3 a/b 3 hé');
  });

  it('P1363 → DER matches what node produces', () => {
    for (const curve of ['P-256', 'P-384'] as const) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      for (let i = 0; i < 20; i++) {
        const data = Buffer.from(`message ${i}`);
        const hash = curve === 'P-256' ? 'sha256' : 'sha384';
        const raw = nodeSign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        const der = p1363ToDer(raw);
        assert.ok(nodeVerify(hash, data, { key: publicKey, dsaEncoding: 'der' }, der));
      }
    }
  });

  it('orders paths by component, as Python sorts PurePosixPath', () => {
    const sorted = ['a-c', 'a/b', 'a', 'B', 'a/b/c', 'é', 'z'].sort(comparePaths);
    assert.deepEqual(sorted, ['B', 'a', 'a/b', 'a/b/c', 'a-c', 'z', 'é']);
  });

  it('hashes the v1.0.1 files to the digests its payload names', async () => {
    const manifest = await hashModel(join(VECTORS, 'v1.0.1-elliptic-key'), {
      ignorePaths: ['ignore-me', 'model.sig'],
    });
    assert.deepEqual(
      manifest.items.map((i) => [i.name, i.digest]),
      [
        ['signme-1', 'bc9a717db6064a32cbe9eae6fc40651dd6d36ef1757183f590eff2b1765d7ebc'],
        ['signme-2', '32dcb1f8e1ae52d5963e56a6ba06ab58b424c15ed2a6b70d2feca1d089370028'],
      ],
    );
    assert.ok(createPublicKey(await readFile(PUBLIC_KEY, 'utf8')));
  });
});
