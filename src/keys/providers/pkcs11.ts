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
import { findObjects, type KeyMetadata, type StoredMetadata } from './pkcs11-metadata.js';
import {
  acquireModule,
  ckrOf,
  findToken,
  hsmError,
  releaseModule,
  type Pkcs11Module,
} from './pkcs11-module.js';
import { SessionPool, tokenSessions, type TokenSession } from './pkcs11-sessions.js';
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
  /** Sessions opened on the token; that many operations run at once. 1-64, default 4. */
  readonly sessions?: number;
}

/** The pkcs11 provider, with a read-only view of its session pool (for tests and metrics). */
export interface Pkcs11KeyProvider extends KeyProvider {
  readonly pool: {
    readonly size: number;
    /** Sessions running an operation now. */
    readonly inUse: number;
    /** The most sessions that ran operations at once. */
    readonly peakInUse: number;
  };
}

/*
 * Wrapped data key: 0x01 (format) || 12-byte IV || AES-256-GCM ciphertext || 16-byte tag, made by
 * C_Encrypt in the token under the key version's AES key with the caller's aad as GCM AAD.
 */
const WRAP_FORMAT = 0x01;
const IV = 12;
const TAG = 16;
const PREFIX = /^[A-Za-z0-9_-]{1,32}$/;
const DEFAULT_SESSIONS = 4;
const MAX_SESSIONS = 64;
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
 * so a change made by another process is seen at once. Operations run in parallel on a pool of
 * sessions (pkcs11-sessions.ts); changes of key metadata run one at a time in the process.
 */
class Pkcs11Provider implements Pkcs11KeyProvider {
  readonly kind = 'pkcs11';
  readonly description: string;
  private readonly lib: PKCS11;
  private mutations: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly module: Pkcs11Module,
    private readonly slot: Handle,
    readonly pool: SessionPool<TokenSession>,
    tokenLabel: string,
    private readonly prefix: string,
  ) {
    this.lib = module.lib;
    this.description = `pkcs11 HSM (${tokenLabel}): keys generated in the token, non-extractable`;
  }

  /** Runs `body` on a session of the pool (a PKCS#11 session runs one operation at a time). */
  private async run<T>(what: string, body: (s: TokenSession) => T | Promise<T>): Promise<T> {
    try {
      return await this.pool.use(body);
    } catch (err) {
      throw hsmError(err, what);
    }
  }

  /**
   * Like run, one change at a time: a change reads the metadata, adds to it and writes it back,
   * so two concurrent changes of one key would lose one of them. (Between processes, see
   * pkcs11-metadata.ts.) Takes no session while waiting, so reads go on meanwhile.
   */
  private mutate<T>(what: string, body: (s: TokenSession) => T | Promise<T>): Promise<T> {
    const result = this.mutations.then(() => this.run(what, body));
    this.mutations = result.catch(() => undefined);
    return result;
  }

  private label(ref: KeyRef): string {
    return `${this.prefix}:${formatKeyRef(ref)}`;
  }

  private stored(s: TokenSession, name: string): StoredMetadata {
    assertKeyName(name);
    const stored = s.meta.read(name);
    if (!stored) throw new KeyError('key_not_found', `no key named ${name}`);
    return stored;
  }

  /** The key object of a usable version, after the state checks of the contract. */
  private usable(
    s: TokenSession,
    ref: KeyRef,
    use: 'wrap' | 'sign',
    objectClass: number,
  ): { algorithm: KeyAlgorithm; handle: Handle } {
    const stored = this.stored(s, ref.name);
    assertAlgorithmFor(ref.name, stored.algorithm, use);
    usableVersion(ref.name, stored.versions, ref.version);
    const handles = findObjects(this.lib, s.handle, [
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

  private primaryRef(s: TokenSession, name: string): KeyRef {
    return { name, version: infoOf(name, this.stored(s, name)).primaryVersion };
  }

  private destroyObjects(s: TokenSession, ref: KeyRef): void {
    const handles = findObjects(this.lib, s.handle, [{ type: pkcs11js.CKA_LABEL, value: this.label(ref) }]);
    for (const handle of handles) this.lib.C_DestroyObject(s.handle, handle);
  }

  /** Generates the objects of one key version; leftovers of a crashed attempt at it go first. */
  private async generate(s: TokenSession, ref: KeyRef, algorithm: KeyAlgorithm): Promise<KeyVersionInfo> {
    this.destroyObjects(s, ref);
    const label = this.label(ref);
    if (algorithm === 'aes-256-gcm') {
      const { mechanism, template } = aesKeyTemplate(label);
      await this.lib.C_GenerateKeyAsync(s.handle, mechanism, template);
    } else {
      const { mechanism, publicTemplate, privateTemplate } = keyPairTemplates(algorithm, label);
      await this.lib.C_GenerateKeyPairAsync(s.handle, mechanism, publicTemplate, privateTemplate);
    }
    return { version: ref.version, state: 'active', createdAt: new Date().toISOString() };
  }

  listKeys(): Promise<readonly KeyInfo[]> {
    return this.run('list keys', (s) =>
      [...s.meta.list()]
        .map(([name, meta]) => infoOf(name, meta))
        .sort((a, b) => a.name.localeCompare(b.name)),
    );
  }

  describeKey(name: string): Promise<KeyInfo> {
    return this.run(`describe key ${name}`, (s) => infoOf(name, this.stored(s, name)));
  }

  createKey(name: string, algorithm: KeyAlgorithm): Promise<KeyInfo> {
    return this.mutate(`create key ${name}`, async (s) => {
      assertKeyName(name);
      if (s.meta.read(name)) throw new KeyError('key_exists', `a key named ${name} already exists`);
      const meta: KeyMetadata = {
        algorithm,
        versions: [await this.generate(s, { name, version: 1 }, algorithm)],
      };
      s.meta.write(name, meta, undefined);
      return infoOf(name, meta);
    });
  }

  rotateKey(name: string): Promise<KeyInfo> {
    return this.mutate(`rotate key ${name}`, async (s) => {
      const stored = this.stored(s, name);
      const ref = { name, version: infoOf(name, stored).primaryVersion + 1 };
      const meta = {
        algorithm: stored.algorithm,
        versions: [...stored.versions, await this.generate(s, ref, stored.algorithm)],
      };
      s.meta.write(name, meta, stored);
      return infoOf(name, meta);
    });
  }

  private setState(ref: KeyRef, change: 'disable' | 'enable' | 'destroy'): Promise<KeyInfo> {
    return this.mutate(`${change} key ${formatKeyRef(ref)}`, (s) => {
      const stored = this.stored(s, ref.name);
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
        this.destroyObjects(s, ref);
        next = { ...current, state: 'destroyed', destroyedAt: new Date().toISOString() };
      } else {
        next = { ...current, state: change === 'disable' ? 'disabled' : 'active' };
      }
      const meta = {
        algorithm: stored.algorithm,
        versions: stored.versions.map((v) => (v.version === ref.version ? next : v)),
      };
      s.meta.write(ref.name, meta, stored);
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
    return this.run(`wrap with key ${name}`, async (s) => {
      assertDataKeySize(dataKey);
      const ref = this.primaryRef(s, name);
      const { handle } = this.usable(s, ref, 'wrap', pkcs11js.CKO_SECRET_KEY);
      const iv = randomBytes(IV);
      this.lib.C_EncryptInit(s.handle, gcmMechanism(iv, aad), handle);
      const body = await this.lib.C_EncryptAsync(
        s.handle,
        Buffer.from(dataKey),
        Buffer.alloc(dataKey.length + 2 * TAG),
      );
      return { keyId: ref, bytes: Buffer.concat([Buffer.of(WRAP_FORMAT), iv, body]) };
    });
  }

  unwrapKey(wrapped: WrappedKey, aad: Uint8Array): Promise<Buffer> {
    return this.run(`unwrap with key ${formatKeyRef(wrapped.keyId)}`, async (s) => {
      const { handle } = this.usable(s, wrapped.keyId, 'wrap', pkcs11js.CKO_SECRET_KEY);
      const bytes = wrapped.bytes;
      if (bytes.length < 1 + IV + 16 + TAG || bytes[0] !== WRAP_FORMAT) {
        throw new KeyError('unwrap_failed', 'the wrapped data key is truncated or of an unknown format');
      }
      const body = bytes.subarray(1 + IV);
      this.lib.C_DecryptInit(s.handle, gcmMechanism(Buffer.from(bytes.subarray(1, 1 + IV)), aad), handle);
      try {
        return await this.lib.C_DecryptAsync(s.handle, Buffer.from(body), Buffer.alloc(body.length));
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
    return this.run(`sign with key ${name}`, async (s) => {
      const ref = this.primaryRef(s, name);
      const { algorithm, handle } = this.usable(s, ref, 'sign', pkcs11js.CKO_PRIVATE_KEY);
      const shape = SIGNATURE_SHAPE[algorithm as SigningAlgorithm];
      // CKM_ECDSA signs a digest we compute; CKM_EDDSA (pure Ed25519) takes the message itself.
      const input = shape.hash ? createHash(shape.hash).update(data).digest() : Buffer.from(data);
      this.lib.C_SignInit(s.handle, { mechanism: shape.hash ? pkcs11js.CKM_ECDSA : CKM_EDDSA }, handle);
      const signature = await this.lib.C_SignAsync(s.handle, input, Buffer.alloc(2 * shape.bytes));
      if (signature.length !== shape.bytes) {
        throw new KeyError(
          'hsm_error',
          `the token returned a ${signature.length}-byte ${algorithm} signature`,
        );
      }
      return { keyId: ref, signature };
    });
  }

  private publicKeyObject(s: TokenSession, ref: KeyRef): { algorithm: SigningAlgorithm; key: KeyObject } {
    const { algorithm, handle } = this.usable(s, ref, 'sign', pkcs11js.CKO_PUBLIC_KEY);
    const [point] = this.lib.C_GetAttributeValue(s.handle, handle, [{ type: pkcs11js.CKA_EC_POINT }]);
    if (!point) {
      throw new KeyError('hsm_error', `the token returned no public point for ${formatKeyRef(ref)}`);
    }
    const signing = algorithm as SigningAlgorithm;
    return { algorithm: signing, key: publicKeyFromPoint(signing, point.value) };
  }

  verify(ref: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return this.run(`verify with key ${formatKeyRef(ref)}`, (s) => {
      const { algorithm, key } = this.publicKeyObject(s, ref);
      return verifyWithPublicKey(algorithm, key, data, signature);
    });
  }

  publicKey(ref: KeyRef): Promise<PublicKeyExport> {
    return this.run(`read the public key ${formatKeyRef(ref)}`, (s) => {
      const { algorithm, key } = this.publicKeyObject(s, ref);
      return exportPublicKey(ref, algorithm, key);
    });
  }

  ping(): Promise<void> {
    return this.run('ping the token', (s) => {
      this.lib.C_GetSessionInfo(s.handle);
      this.lib.C_GetTokenInfo(this.slot);
    });
  }

  /** Waits for the operations under way, closes every session and releases the module. */
  close(): Promise<void> {
    this.closing ??= this.pool.close().finally(() => releaseModule(this.module));
    return this.closing;
  }
}

/**
 * Loads the module, finds the token and opens the pool's sessions, all logged in (so that a wrong
 * PIN or an absent token fails here). Errors are KeyErrors; none holds the PIN.
 */
export async function createPkcs11Provider(options: Pkcs11ProviderOptions): Promise<Pkcs11KeyProvider> {
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
  const sessions = options.sessions ?? DEFAULT_SESSIONS;
  if (!Number.isInteger(sessions) || sessions < 1 || sessions > MAX_SESSIONS) {
    throw new KeyError('invalid_argument', `pkcs11: sessions is a whole number from 1 to ${MAX_SESSIONS}`);
  }
  const module = acquireModule(options.modulePath);
  try {
    const { slot, label } = findToken(module, options);
    const pool = SessionPool.open(sessions, tokenSessions(module, slot, options.pin, prefix));
    return new Pkcs11Provider(module, slot, pool, label, prefix);
  } catch (err) {
    releaseModule(module);
    throw err;
  }
}
