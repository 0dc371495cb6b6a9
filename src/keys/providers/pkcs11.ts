import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Handle, PKCS11 } from 'pkcs11js';
import { KeyError } from '../errors.js';
import { assertKeyName, formatKeyRef, SIGNATURE_SHAPE } from '../key-id.js';
import { exportPublicKey, verifyWithPublicKey } from '../public-key.js';
import type {
  KeyAlgorithm,
  KeyInfo,
  KeyProvider,
  KeyRef,
  KeySignature,
  KeyVersionInfo,
  PublicKeyExport,
  WrappedKey,
} from '../types.js';
import {
  aesKeyTemplate,
  CKM_EDDSA,
  gcmMechanism,
  keyPairTemplates,
  publicKeyFromPoint,
  type SigningAlgorithm,
} from './pkcs11-attributes.js';
import { findObjects, TokenMetadata, type KeyMetadata, type StoredMetadata } from './pkcs11-metadata.js';
import {
  acquireModule,
  ckrOf,
  closeUserSession,
  findToken,
  hsmError,
  openUserSession,
  releaseModule,
  type Pkcs11Module,
} from './pkcs11-module.js';
import { assertAlgorithmFor, assertDataKeySize, assertRetirable, usableVersion } from './version-rules.js';

export interface Pkcs11ProviderOptions {
  /** The PKCS#11 module, for example /usr/lib/softhsm/libsofthsm2.so. */
  readonly modulePath: string;
  /** The token, by label ... */
  readonly tokenLabel?: string;
  /** ... or by slot id (exactly one of the two). */
  readonly slot?: number;
  /** The user PIN, already resolved from its secret reference. */
  readonly pin: string;
  /** Namespaces our objects in the token. Default `ztgate`. */
  readonly labelPrefix?: string;
}

/*
 * Wrapped data key: 0x01 (format) || 12-byte IV || AES-256-GCM ciphertext || 16-byte tag, made by
 * C_Encrypt in the token under the key version's AES key with the caller's aad as GCM AAD.
 */
const WRAP_FORMAT = 0x01;
const IV = 12;
const TAG = 16;
const PREFIX = /^[A-Za-z0-9_-]{1,32}$/;
/** CK_RVs with which a GCM decryption reports that the input did not authenticate. */
const UNAUTHENTIC = new Set([
  pkcs11js.CKR_GENERAL_ERROR,
  pkcs11js.CKR_FUNCTION_FAILED,
  pkcs11js.CKR_ENCRYPTED_DATA_INVALID,
  pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE,
]);

function infoOf(name: string, meta: KeyMetadata): KeyInfo {
  return {
    name,
    algorithm: meta.algorithm,
    primaryVersion: Math.max(...meta.versions.map((v) => v.version)),
    versions: meta.versions.map((v) => ({ ...v })),
  };
}

/**
 * The `pkcs11` provider: every key version is generated in the token as a sensitive,
 * non-extractable object labelled `<prefix>:<name>@<version>`; wrapping and signing run in the
 * token. Metadata lives in the token too (pkcs11-metadata.ts) and is re-read on every operation,
 * so a change made by another process is seen at once.
 */
class Pkcs11Provider implements KeyProvider {
  readonly kind = 'pkcs11';
  readonly description: string;
  private readonly lib: PKCS11;
  private readonly meta: TokenMetadata;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly module: Pkcs11Module,
    private readonly slot: Handle,
    private readonly session: Handle,
    tokenLabel: string,
    private readonly prefix: string,
  ) {
    this.lib = module.lib;
    this.meta = new TokenMetadata(module.lib, session, prefix);
    this.description = `pkcs11 HSM (${tokenLabel}): keys generated in the token, non-extractable`;
  }

  /** One operation at a time on our session (PKCS#11 sessions are not concurrent). */
  private run<T>(what: string, body: () => T | Promise<T>): Promise<T> {
    const result = this.queue.then(async () => {
      if (this.closed) throw new KeyError('provider_closed', 'the pkcs11 key provider is closed');
      try {
        return await body();
      } catch (err) {
        throw hsmError(err, what);
      }
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private label(ref: KeyRef): string {
    return `${this.prefix}:${formatKeyRef(ref)}`;
  }

  private stored(name: string): StoredMetadata {
    assertKeyName(name);
    const stored = this.meta.read(name);
    if (!stored) throw new KeyError('key_not_found', `no key named ${name}`);
    return stored;
  }

  /** The key object of a usable version, after the state checks of the contract. */
  private usable(
    ref: KeyRef,
    use: 'wrap' | 'sign',
    objectClass: number,
  ): { algorithm: KeyAlgorithm; handle: Handle } {
    const stored = this.stored(ref.name);
    assertAlgorithmFor(ref.name, stored.algorithm, use);
    usableVersion(ref.name, stored.versions, ref.version);
    const handles = findObjects(this.lib, this.session, [
      { type: pkcs11js.CKA_CLASS, value: objectClass },
      { type: pkcs11js.CKA_LABEL, value: this.label(ref) },
    ]);
    const [handle] = handles;
    // Objects are destroyed before the metadata says so: another replica is destroying this version.
    if (!handle) {
      throw new KeyError('key_destroyed', `the material of key ${formatKeyRef(ref)} is gone from the token`);
    }
    if (handles.length > 1) {
      throw new KeyError('hsm_error', `the token holds several objects for ${formatKeyRef(ref)}`);
    }
    return { algorithm: stored.algorithm, handle };
  }

  private primaryRef(name: string): KeyRef {
    return { name, version: infoOf(name, this.stored(name)).primaryVersion };
  }

  private destroyObjects(ref: KeyRef): void {
    const handles = findObjects(this.lib, this.session, [
      { type: pkcs11js.CKA_LABEL, value: this.label(ref) },
    ]);
    for (const handle of handles) this.lib.C_DestroyObject(this.session, handle);
  }

  /** Generates the objects of one key version; leftovers of a crashed attempt at it go first. */
  private async generate(ref: KeyRef, algorithm: KeyAlgorithm): Promise<KeyVersionInfo> {
    this.destroyObjects(ref);
    const label = this.label(ref);
    if (algorithm === 'aes-256-gcm') {
      const { mechanism, template } = aesKeyTemplate(label);
      await this.lib.C_GenerateKeyAsync(this.session, mechanism, template);
    } else {
      const { mechanism, publicTemplate, privateTemplate } = keyPairTemplates(algorithm, label);
      await this.lib.C_GenerateKeyPairAsync(this.session, mechanism, publicTemplate, privateTemplate);
    }
    return { version: ref.version, state: 'active', createdAt: new Date().toISOString() };
  }

  listKeys(): Promise<readonly KeyInfo[]> {
    return this.run('list keys', () =>
      [...this.meta.list()]
        .map(([name, meta]) => infoOf(name, meta))
        .sort((a, b) => a.name.localeCompare(b.name)),
    );
  }

  describeKey(name: string): Promise<KeyInfo> {
    return this.run(`describe key ${name}`, () => infoOf(name, this.stored(name)));
  }

  createKey(name: string, algorithm: KeyAlgorithm): Promise<KeyInfo> {
    return this.run(`create key ${name}`, async () => {
      assertKeyName(name);
      if (this.meta.read(name)) throw new KeyError('key_exists', `a key named ${name} already exists`);
      const meta: KeyMetadata = {
        algorithm,
        versions: [await this.generate({ name, version: 1 }, algorithm)],
      };
      this.meta.write(name, meta, undefined);
      return infoOf(name, meta);
    });
  }

  rotateKey(name: string): Promise<KeyInfo> {
    return this.run(`rotate key ${name}`, async () => {
      const stored = this.stored(name);
      const ref = { name, version: infoOf(name, stored).primaryVersion + 1 };
      const meta = {
        algorithm: stored.algorithm,
        versions: [...stored.versions, await this.generate(ref, stored.algorithm)],
      };
      this.meta.write(name, meta, stored);
      return infoOf(name, meta);
    });
  }

  private setState(ref: KeyRef, change: 'disable' | 'enable' | 'destroy'): Promise<KeyInfo> {
    return this.run(`${change} key ${formatKeyRef(ref)}`, () => {
      const stored = this.stored(ref.name);
      const info = infoOf(ref.name, stored);
      const current =
        change === 'enable'
          ? stored.versions.find((v) => v.version === ref.version)
          : assertRetirable(info, ref.version, change);
      if (!current) throw new KeyError('key_version_not_found', `key ${formatKeyRef(ref)} does not exist`);
      if (current.state === 'destroyed') {
        throw new KeyError('key_destroyed', `key ${formatKeyRef(ref)} was destroyed`);
      }
      let next: KeyVersionInfo;
      if (change === 'destroy') {
        this.destroyObjects(ref);
        next = { ...current, state: 'destroyed', destroyedAt: new Date().toISOString() };
      } else {
        next = { ...current, state: change === 'disable' ? 'disabled' : 'active' };
      }
      const meta = {
        algorithm: stored.algorithm,
        versions: stored.versions.map((v) => (v.version === ref.version ? next : v)),
      };
      this.meta.write(ref.name, meta, stored);
      return infoOf(ref.name, meta);
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

  wrapKey(name: string, dataKey: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    return this.run(`wrap with key ${name}`, async () => {
      assertDataKeySize(dataKey);
      const ref = this.primaryRef(name);
      const { handle } = this.usable(ref, 'wrap', pkcs11js.CKO_SECRET_KEY);
      const iv = randomBytes(IV);
      this.lib.C_EncryptInit(this.session, gcmMechanism(iv, aad), handle);
      const body = await this.lib.C_EncryptAsync(
        this.session,
        Buffer.from(dataKey),
        Buffer.alloc(dataKey.length + 2 * TAG),
      );
      return { keyId: ref, bytes: Buffer.concat([Buffer.of(WRAP_FORMAT), iv, body]) };
    });
  }

  unwrapKey(wrapped: WrappedKey, aad: Uint8Array): Promise<Buffer> {
    return this.run(`unwrap with key ${formatKeyRef(wrapped.keyId)}`, async () => {
      const { handle } = this.usable(wrapped.keyId, 'wrap', pkcs11js.CKO_SECRET_KEY);
      const bytes = wrapped.bytes;
      if (bytes.length < 1 + IV + 16 + TAG || bytes[0] !== WRAP_FORMAT) {
        throw new KeyError('unwrap_failed', 'the wrapped data key is truncated or of an unknown format');
      }
      const body = bytes.subarray(1 + IV);
      this.lib.C_DecryptInit(this.session, gcmMechanism(Buffer.from(bytes.subarray(1, 1 + IV)), aad), handle);
      try {
        return await this.lib.C_DecryptAsync(this.session, Buffer.from(body), Buffer.alloc(body.length));
      } catch (err) {
        const rv = ckrOf(err);
        if (rv === undefined || !UNAUTHENTIC.has(rv)) throw err;
        throw new KeyError(
          'unwrap_failed',
          'the wrapped data key did not authenticate (tampered, or other context)',
        );
      }
    });
  }

  sign(name: string, data: Uint8Array): Promise<KeySignature> {
    return this.run(`sign with key ${name}`, async () => {
      const ref = this.primaryRef(name);
      const { algorithm, handle } = this.usable(ref, 'sign', pkcs11js.CKO_PRIVATE_KEY);
      const shape = SIGNATURE_SHAPE[algorithm as SigningAlgorithm];
      // CKM_ECDSA signs a digest we compute; CKM_EDDSA (pure Ed25519) takes the message itself.
      const input = shape.hash ? createHash(shape.hash).update(data).digest() : Buffer.from(data);
      this.lib.C_SignInit(this.session, { mechanism: shape.hash ? pkcs11js.CKM_ECDSA : CKM_EDDSA }, handle);
      const signature = await this.lib.C_SignAsync(this.session, input, Buffer.alloc(2 * shape.bytes));
      if (signature.length !== shape.bytes) {
        throw new KeyError(
          'hsm_error',
          `the token returned a ${signature.length}-byte ${algorithm} signature`,
        );
      }
      return { keyId: ref, signature };
    });
  }

  private publicKeyObject(ref: KeyRef): { algorithm: SigningAlgorithm; key: KeyObject } {
    const { algorithm, handle } = this.usable(ref, 'sign', pkcs11js.CKO_PUBLIC_KEY);
    const [point] = this.lib.C_GetAttributeValue(this.session, handle, [{ type: pkcs11js.CKA_EC_POINT }]);
    if (!point) {
      throw new KeyError('hsm_error', `the token returned no public point for ${formatKeyRef(ref)}`);
    }
    const signing = algorithm as SigningAlgorithm;
    return { algorithm: signing, key: publicKeyFromPoint(signing, point.value) };
  }

  verify(ref: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return this.run(`verify with key ${formatKeyRef(ref)}`, () => {
      const { algorithm, key } = this.publicKeyObject(ref);
      return verifyWithPublicKey(algorithm, key, data, signature);
    });
  }

  publicKey(ref: KeyRef): Promise<PublicKeyExport> {
    return this.run(`read the public key ${formatKeyRef(ref)}`, () => {
      const { algorithm, key } = this.publicKeyObject(ref);
      return exportPublicKey(ref, algorithm, key);
    });
  }

  ping(): Promise<void> {
    return this.run('ping the token', () => {
      this.lib.C_GetSessionInfo(this.session);
      this.lib.C_GetTokenInfo(this.slot);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    closeUserSession(this.module, this.slot, this.session);
    releaseModule(this.module);
  }
}

/** Loads the module, finds the token and logs in. Errors are KeyErrors; none holds the PIN. */
export async function createPkcs11Provider(options: Pkcs11ProviderOptions): Promise<KeyProvider> {
  if ((options.tokenLabel === undefined) === (options.slot === undefined)) {
    throw new KeyError('invalid_argument', 'pkcs11: set exactly one of tokenLabel and slot');
  }
  const prefix = options.labelPrefix ?? 'ztgate';
  if (!PREFIX.test(prefix)) {
    throw new KeyError(
      'invalid_argument',
      'pkcs11: labelPrefix is 1-32 letters, digits, dashes or underscores',
    );
  }
  const module = acquireModule(options.modulePath);
  try {
    const { slot, label } = findToken(module, options);
    const session = openUserSession(module, slot, options.pin);
    return new Pkcs11Provider(module, slot, session, label, prefix);
  } catch (err) {
    releaseModule(module);
    throw err;
  }
}
