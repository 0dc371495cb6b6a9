import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { join } from 'node:path';
import { KeyError } from '../errors.js';
import { assertKeyName, SIGNATURE_SHAPE } from '../key-id.js';
import { exportPublicKey, verifyWithPublicKey } from '../public-key.js';
import type {
  KeyAlgorithm,
  KeyInfo,
  KeyProvider,
  KeyRef,
  KeySignature,
  PublicKeyExport,
  WrappedKey,
} from '../types.js';
import { LocalKeystore, type FileStamp, type KeystoreContents, type StoredKey } from './local-keystore.js';
import { loadMasterKey } from './local-master-key.js';
import { assertAlgorithmFor, assertDataKeySize, assertRetirable, usableVersion } from './version-rules.js';

export interface LocalProviderOptions {
  /** Folder for the key store and the master key file (the home's `keys/`, mode 0700). */
  readonly dir: string;
  /** Master key file, used when ZTGATE_MASTER_KEY is not set. Default `<dir>/master.key`. */
  readonly masterKeyFile?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const WRAP_FORMAT = 0x01;
const NONCE = 12;
const TAG = 16;

interface LiveVersion {
  readonly version: number;
  readonly state: 'active' | 'disabled' | 'destroyed';
  readonly createdAt: string;
  readonly destroyedAt?: string;
  readonly key?: KeyObject;
  readonly publicKey?: KeyObject;
}

interface LiveKey {
  readonly algorithm: KeyAlgorithm;
  readonly versions: readonly LiveVersion[];
}

function newMaterial(algorithm: KeyAlgorithm): string {
  if (algorithm === 'aes-256-gcm') return randomBytes(32).toString('base64');
  const pair =
    algorithm === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: algorithm === 'ecdsa-p256' ? 'P-256' : 'P-384' });
  return pair.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
}

function liveKey(stored: StoredKey): LiveKey {
  return {
    algorithm: stored.algorithm,
    versions: stored.versions.map((v) => {
      const base = {
        version: v.version,
        state: v.state,
        createdAt: v.createdAt,
        ...(v.destroyedAt ? { destroyedAt: v.destroyedAt } : {}),
      };
      if (v.material === undefined) return base;
      const der = Buffer.from(v.material, 'base64');
      if (stored.algorithm === 'aes-256-gcm') return { ...base, key: createSecretKey(der) };
      const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      return { ...base, key, publicKey: createPublicKey(key) };
    }),
  };
}

function infoOf(name: string, key: LiveKey | StoredKey): KeyInfo {
  const versions = key.versions.map((v) => ({
    version: v.version,
    state: v.state,
    createdAt: v.createdAt,
    ...(v.destroyedAt ? { destroyedAt: v.destroyedAt } : {}),
  }));
  return {
    name,
    algorithm: key.algorithm,
    primaryVersion: Math.max(...versions.map((v) => v.version)),
    versions,
  };
}

function storedKey(contents: KeystoreContents, name: string): StoredKey {
  assertKeyName(name);
  const key = Object.hasOwn(contents.keys, name) ? contents.keys[name] : undefined;
  if (!key) throw new KeyError('key_not_found', `no key named ${name}`);
  return key;
}

/**
 * The `local` provider: keys live in one sealed file in the home directory, opened with a master
 * key from ZTGATE_MASTER_KEY or a 0600 key file. For a single node or development: anyone who can
 * read both the key store and the master key has every key. Changes made by another process (the
 * `ztgate keys` command) are picked up on the next operation.
 */
class LocalProvider implements KeyProvider {
  readonly kind = 'local';
  readonly description: string;
  private keys = new Map<string, LiveKey>();
  private stamp: FileStamp | undefined;
  private closed = false;

  constructor(
    private readonly store: LocalKeystore,
    masterSource: 'env' | 'file',
  ) {
    this.description =
      `local key store ${store.path} (master key from ${masterSource === 'env' ? 'ZTGATE_MASTER_KEY' : 'a key file'}): ` +
      'for a single node or development only; keys are in process memory and on this disk';
  }

  async load(): Promise<void> {
    const { contents, stamp } = await this.store.read();
    this.adopt(contents, stamp);
  }

  /** Writes an empty store on first start, so that its permissions are set from the start. */
  async initialise(): Promise<void> {
    if (this.store.stamp() === undefined) await this.store.update(() => undefined);
    await this.load();
  }

  private adopt(contents: KeystoreContents, stamp: FileStamp | undefined): void {
    const keys = new Map<string, LiveKey>();
    for (const [name, stored] of Object.entries(contents.keys)) keys.set(name, liveKey(stored));
    this.keys = keys;
    this.stamp = stamp;
  }

  /** Reloads when another process changed the file since we read it. */
  private async fresh(): Promise<void> {
    if (this.closed) throw new KeyError('provider_closed', 'the local key provider is closed');
    if (this.store.stamp() !== this.stamp) await this.load();
  }

  private async key(name: string): Promise<LiveKey> {
    assertKeyName(name);
    await this.fresh();
    const key = this.keys.get(name);
    if (!key) throw new KeyError('key_not_found', `no key named ${name}`);
    return key;
  }

  private async mutate(change: (contents: KeystoreContents) => string): Promise<KeyInfo> {
    if (this.closed) throw new KeyError('provider_closed', 'the local key provider is closed');
    const { result: name, contents } = await this.store.update(change);
    this.adopt(contents, this.store.stamp());
    return infoOf(name, storedKey(contents, name));
  }

  async listKeys(): Promise<readonly KeyInfo[]> {
    await this.fresh();
    return [...this.keys.entries()].map(([name, key]) => infoOf(name, key));
  }

  async describeKey(name: string): Promise<KeyInfo> {
    return infoOf(name, await this.key(name));
  }

  async createKey(name: string, algorithm: KeyAlgorithm): Promise<KeyInfo> {
    assertKeyName(name);
    return this.mutate((contents) => {
      if (Object.hasOwn(contents.keys, name))
        throw new KeyError('key_exists', `a key named ${name} already exists`);
      contents.keys[name] = {
        algorithm,
        versions: [
          {
            version: 1,
            state: 'active',
            createdAt: new Date().toISOString(),
            material: newMaterial(algorithm),
          },
        ],
      };
      return name;
    });
  }

  rotateKey(name: string): Promise<KeyInfo> {
    return this.mutate((contents) => {
      const key = storedKey(contents, name);
      const next = Math.max(...key.versions.map((v) => v.version)) + 1;
      key.versions.push({
        version: next,
        state: 'active',
        createdAt: new Date().toISOString(),
        material: newMaterial(key.algorithm),
      });
      return name;
    });
  }

  private setState(ref: KeyRef, change: 'disable' | 'enable' | 'destroy'): Promise<KeyInfo> {
    return this.mutate((contents) => {
      const key = storedKey(contents, ref.name);
      const info = infoOf(ref.name, key);
      if (change !== 'enable') assertRetirable(info, ref.version, change);
      const stored = key.versions.find((v) => v.version === ref.version);
      if (!stored)
        throw new KeyError('key_version_not_found', `key ${ref.name}@${ref.version} does not exist`);
      if (stored.state === 'destroyed') {
        throw new KeyError('key_destroyed', `key ${ref.name}@${ref.version} was destroyed`);
      }
      if (change === 'destroy') {
        stored.state = 'destroyed';
        stored.destroyedAt = new Date().toISOString();
        delete stored.material;
      } else {
        stored.state = change === 'disable' ? 'disabled' : 'active';
      }
      return ref.name;
    });
  }

  disableVersion(ref: KeyRef): Promise<KeyInfo> {
    return this.setState(ref, 'disable');
  }

  enableVersion(ref: KeyRef): Promise<KeyInfo> {
    return this.setState(ref, 'enable');
  }

  destroyVersion(ref: KeyRef): Promise<KeyInfo> {
    return this.setState(ref, 'destroy');
  }

  private async version(ref: KeyRef, use: 'wrap' | 'sign'): Promise<{ key: LiveKey; version: LiveVersion }> {
    const key = await this.key(ref.name);
    assertAlgorithmFor(ref.name, key.algorithm, use);
    return { key, version: usableVersion(ref.name, key.versions, ref.version) };
  }

  private async primary(name: string, use: 'wrap' | 'sign'): Promise<{ key: LiveKey; version: LiveVersion }> {
    const key = await this.key(name);
    return this.version({ name, version: infoOf(name, key).primaryVersion }, use);
  }

  async wrapKey(name: string, dataKey: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    assertDataKeySize(dataKey);
    const { version } = await this.primary(name, 'wrap');
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv('aes-256-gcm', version.key as KeyObject, nonce);
    cipher.setAAD(aad);
    const body = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
    return {
      keyId: { name, version: version.version },
      bytes: Buffer.concat([Buffer.of(WRAP_FORMAT), nonce, body]),
    };
  }

  async unwrapKey(wrapped: WrappedKey, aad: Uint8Array): Promise<Buffer> {
    const { version } = await this.version(wrapped.keyId, 'wrap');
    const bytes = wrapped.bytes;
    if (bytes.length < 1 + NONCE + 16 + TAG || bytes[0] !== WRAP_FORMAT) {
      throw new KeyError('unwrap_failed', 'the wrapped data key is truncated or of an unknown format');
    }
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        version.key as KeyObject,
        bytes.subarray(1, 1 + NONCE),
      );
      decipher.setAAD(aad);
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG));
      return Buffer.concat([
        decipher.update(bytes.subarray(1 + NONCE, bytes.length - TAG)),
        decipher.final(),
      ]);
    } catch {
      throw new KeyError(
        'unwrap_failed',
        'the wrapped data key did not authenticate (tampered, or other context)',
      );
    }
  }

  async sign(name: string, data: Uint8Array): Promise<KeySignature> {
    const { key, version } = await this.primary(name, 'sign');
    const algorithm = key.algorithm as Exclude<KeyAlgorithm, 'aes-256-gcm'>;
    const privateKey = version.key as KeyObject;
    const signature =
      algorithm === 'ed25519'
        ? nodeSign(null, data, privateKey)
        : nodeSign(SIGNATURE_SHAPE[algorithm].hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return { keyId: { name, version: version.version }, signature };
  }

  async verify(ref: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const { key, version } = await this.version(ref, 'sign');
    const algorithm = key.algorithm as Exclude<KeyAlgorithm, 'aes-256-gcm'>;
    return verifyWithPublicKey(algorithm, version.publicKey as KeyObject, data, signature);
  }

  async publicKey(ref: KeyRef): Promise<PublicKeyExport> {
    const { key, version } = await this.version(ref, 'sign');
    return exportPublicKey(ref, key.algorithm, version.publicKey as KeyObject);
  }

  async ping(): Promise<void> {
    await this.fresh();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.keys = new Map();
  }
}

/** Opens (creating on first use) the local key store in `options.dir`. */
export async function createLocalProvider(
  options: LocalProviderOptions,
): Promise<KeyProvider & { readonly masterKeyCreated: boolean }> {
  const master = await loadMasterKey(options.masterKeyFile ?? join(options.dir, 'master.key'), options.env);
  const provider = new LocalProvider(
    new LocalKeystore(join(options.dir, 'keystore.json'), master.key),
    master.source,
  );
  await provider.initialise();
  return Object.assign(provider, { masterKeyCreated: master.created });
}
