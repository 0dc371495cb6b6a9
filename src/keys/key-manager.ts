import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { DataKeyCache, type DataKeyCacheLimits } from './data-key-cache.js';
import {
  dataKeyAad,
  envelopePrefix,
  NONCE_BYTES,
  parseEnvelope,
  payloadAad,
  serializeEnvelope,
  TAG_BYTES,
  type EnvelopeContext,
} from './envelope-format.js';
import { isKeyError, KeyError } from './errors.js';
import { KeyAuditTrail, type KeyAuditEvent, type KeyOperation } from './key-audit.js';
import { formatKeyRef } from './key-id.js';
import type {
  KeyAlgorithm,
  KeyInfo,
  KeyProvider,
  KeyRef,
  KeySignature,
  PublicKeyExport,
  WrappedKey,
} from './types.js';

export type { KeyAuditEvent, KeyOperation } from './key-audit.js';

/** A change other replicas must hear about, to wipe their data-key caches. */
export interface KeyChange {
  readonly kind: 'rotated' | 'disabled' | 'destroyed';
  readonly keyId: KeyRef;
}

export interface KeyManagerOptions {
  readonly provider: KeyProvider;
  readonly cache: DataKeyCacheLimits;
  /** Records each key operation; a failure to record fails the operation's report. */
  readonly audit?: (event: KeyAuditEvent) => Promise<void>;
  /** Told after each rotate/disable/destroy (to tell other replicas). */
  readonly onChange?: (change: KeyChange) => void;
  readonly now?: () => number;
  /**
   * Before serving a cached data key, the key's version states are read from the provider when
   * the last read is older than this, so that a version disabled or destroyed by another process
   * stops being served within this time even without a bus. Default 1000 ms.
   */
  readonly stateCheckMs?: number;
}

export interface EncryptOptions {
  /**
   * Reuse a cached data key for this key, tenant and purpose within the cache's limits (a data
   * key per period) instead of a fresh data key for this object alone (the default).
   */
  readonly reuseDataKey?: boolean;
}

function contextLabel(context: Pick<EnvelopeContext, 'tenant' | 'purpose'>): string {
  return JSON.stringify([context.tenant, context.purpose]);
}

function assertContext(context: EnvelopeContext): void {
  for (const field of ['tenant', 'recordId', 'purpose'] as const) {
    if (typeof context[field] !== 'string')
      throw new KeyError('invalid_argument', `context.${field} must be a string`);
  }
}

/**
 * The one place modules get cryptography from: envelope encryption with a data-key cache, signing,
 * and audited key management over a KeyProvider.
 */
export class KeyManager {
  readonly provider: KeyProvider;
  readonly cache: DataKeyCache;
  private readonly trail: KeyAuditTrail;
  private readonly onChange: ((change: KeyChange) => void) | undefined;
  private readonly now: () => number;
  private readonly stateCheckMs: number;
  private readonly checkedAt = new Map<string, number>();

  constructor(options: KeyManagerOptions) {
    this.provider = options.provider;
    this.now = options.now ?? Date.now;
    this.stateCheckMs = options.stateCheckMs ?? 1000;
    this.cache = new DataKeyCache(options.cache, this.now);
    this.trail = new KeyAuditTrail(options.audit, this.now);
    this.onChange = options.onChange;
  }

  // ---- envelope encryption ------------------------------------------------------------------

  /** Encrypts `plaintext` under a fresh (or, when asked, a cached) data key wrapped by `keyName`. */
  async encrypt(
    keyName: string,
    plaintext: Uint8Array,
    context: EnvelopeContext,
    options: EncryptOptions = {},
  ): Promise<Buffer> {
    assertContext(context);
    const partition = `${keyName}\u0000${contextLabel(context)}`;
    let dataKey: Buffer;
    let wrapped: WrappedKey;
    if (options.reuseDataKey) await this.revalidate(keyName);
    const cached = options.reuseDataKey ? this.cache.take('encrypt', partition, plaintext.length) : undefined;
    let fresh = false;
    if (cached) {
      ({ dataKey, wrapped } = cached);
    } else {
      ({ dataKey, wrapped } = await this.newDataKey(keyName, context));
      fresh = true;
    }
    try {
      const nonce = randomBytes(NONCE_BYTES);
      const prefix = envelopePrefix();
      const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
      cipher.setAAD(payloadAad(prefix, context));
      const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      if (fresh && options.reuseDataKey)
        this.cache.put('encrypt', partition, dataKey, wrapped, plaintext.length);
      return serializeEnvelope({ keyId: wrapped.keyId, wrappedKey: wrapped.bytes, nonce, sealed });
    } finally {
      if (fresh) dataKey.fill(0);
    }
  }

  /** Decrypts an envelope made by `encrypt` under the same context. */
  async decrypt(envelope: Uint8Array, context: EnvelopeContext): Promise<Buffer> {
    assertContext(context);
    const parts = parseEnvelope(envelope);
    const { dataKey, fresh } = await this.openDataKey(
      { keyId: parts.keyId, bytes: parts.wrappedKey },
      context,
      parts.sealed.length,
    );
    try {
      const decipher = createDecipheriv('aes-256-gcm', dataKey, parts.nonce);
      decipher.setAAD(payloadAad(parts.prefix, context));
      decipher.setAuthTag(parts.sealed.subarray(parts.sealed.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(parts.sealed.subarray(0, parts.sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new KeyError(
        'ciphertext_unauthentic',
        'the envelope did not authenticate: it was altered, or this is not its context (tenant, record, purpose)',
      );
    } finally {
      if (fresh) dataKey.fill(0);
    }
  }

  /**
   * Re-wraps an envelope's data key under the key's primary version, leaving the payload as it is
   * (it is never decrypted). Returns undefined when the envelope is already under the primary.
   */
  async rewrap(
    envelope: Uint8Array,
    context: Pick<EnvelopeContext, 'tenant' | 'purpose'>,
  ): Promise<Buffer | undefined> {
    const parts = parseEnvelope(envelope);
    const info = await this.provider.describeKey(parts.keyId.name);
    if (parts.keyId.version === info.primaryVersion) return undefined;
    const aad = dataKeyAad(context);
    const old: WrappedKey = { keyId: parts.keyId, bytes: parts.wrappedKey };
    let next: WrappedKey;
    if (this.provider.rewrapKey) {
      next = await this.provider.rewrapKey(old, aad);
    } else {
      const dataKey = await this.provider.unwrapKey(old, aad);
      try {
        next = await this.provider.wrapKey(parts.keyId.name, dataKey, aad);
      } finally {
        dataKey.fill(0);
      }
    }
    return serializeEnvelope({
      keyId: next.keyId,
      wrappedKey: next.bytes,
      nonce: parts.nonce,
      sealed: parts.sealed,
    });
  }

  private async newDataKey(
    keyName: string,
    context: EnvelopeContext,
  ): Promise<{ dataKey: Buffer; wrapped: WrappedKey }> {
    const aad = dataKeyAad(context);
    if (this.provider.generateDataKey) {
      const { plaintext, wrapped } = await this.provider.generateDataKey(keyName, aad);
      return { dataKey: plaintext, wrapped };
    }
    const dataKey = randomBytes(32);
    try {
      return { dataKey, wrapped: await this.provider.wrapKey(keyName, dataKey, aad) };
    } catch (err) {
      dataKey.fill(0);
      throw err;
    }
  }

  private async openDataKey(
    wrapped: WrappedKey,
    context: EnvelopeContext,
    bytes: number,
  ): Promise<{ dataKey: Buffer; fresh: true }> {
    const aad = dataKeyAad(context);
    const id = createHash('sha256')
      .update(formatKeyRef(wrapped.keyId))
      .update('\u0000')
      .update(wrapped.bytes)
      .update(aad)
      .digest('base64');
    await this.revalidate(wrapped.keyId.name);
    const cached = this.cache.take('decrypt', id, bytes);
    // A copy: the cached original may be wiped (rotation, destroy) while this decryption awaits.
    if (cached) return { dataKey: Buffer.from(cached.dataKey), fresh: true };
    const dataKey = await this.provider.unwrapKey(wrapped, aad);
    this.cache.put('decrypt', id, dataKey, wrapped, bytes);
    return { dataKey, fresh: true };
  }

  /**
   * Wipes cached data keys of versions that are no longer usable, or whose key has a newer
   * primary, reading states from the provider at most once per `stateCheckMs` per key. A
   * provider that cannot answer fails the operation (fail closed), cache or not.
   */
  private async revalidate(keyName: string): Promise<void> {
    if (!this.cache.enabled) return;
    const last = this.checkedAt.get(keyName);
    if (last !== undefined && this.now() - last < this.stateCheckMs) return;
    const info = await this.provider.describeKey(keyName);
    for (const version of info.versions) {
      if (version.state !== 'active') this.cache.wipeVersion({ name: keyName, version: version.version });
    }
    this.cache.wipeEncryptSideBelow(keyName, info.primaryVersion);
    this.checkedAt.set(keyName, this.now());
  }

  // ---- signing ------------------------------------------------------------------------------

  sign(keyName: string, data: Uint8Array): Promise<KeySignature> {
    return this.provider.sign(keyName, data);
  }

  verify(ref: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return this.provider.verify(ref, data, signature);
  }

  // ---- key management -----------------------------------------------------------------------

  listKeys(): Promise<readonly KeyInfo[]> {
    return this.provider.listKeys();
  }

  describeKey(name: string): Promise<KeyInfo> {
    return this.provider.describeKey(name);
  }

  /** Creates the key when it does not exist; checks its algorithm when it does. */
  async ensureKey(name: string, algorithm: KeyAlgorithm, actor: string): Promise<KeyInfo> {
    try {
      const info = await this.provider.describeKey(name);
      if (info.algorithm !== algorithm) {
        throw new KeyError(
          'key_wrong_type',
          `key ${name} exists as ${info.algorithm}, but ${algorithm} is needed`,
        );
      }
      return info;
    } catch (err) {
      if (!isKeyError(err, 'key_not_found')) throw err;
      return this.createKey(name, algorithm, actor);
    }
  }

  createKey(name: string, algorithm: KeyAlgorithm, actor: string): Promise<KeyInfo> {
    return this.administer(
      'create',
      name,
      actor,
      () => this.provider.createKey(name, algorithm),
      (info) => ({
        keyId: { name, version: info.primaryVersion },
      }),
    );
  }

  rotateKey(name: string, actor: string): Promise<KeyInfo> {
    return this.administer(
      'rotate',
      name,
      actor,
      () => this.provider.rotateKey(name),
      (info) => {
        this.cache.wipeEncryptSide(name);
        return { keyId: { name, version: info.primaryVersion }, change: 'rotated' };
      },
    );
  }

  disableVersion(ref: KeyRef, actor: string): Promise<KeyInfo> {
    return this.administer(
      'disable',
      formatKeyRef(ref),
      actor,
      () => this.provider.disableVersion(ref),
      () => {
        this.cache.wipeVersion(ref);
        return { keyId: ref, change: 'disabled' };
      },
    );
  }

  enableVersion(ref: KeyRef, actor: string): Promise<KeyInfo> {
    return this.administer(
      'enable',
      formatKeyRef(ref),
      actor,
      () => this.provider.enableVersion(ref),
      () => ({
        keyId: ref,
      }),
    );
  }

  /** Irreversible: everything whose data key is wrapped under `ref` becomes unreadable. */
  destroyVersion(ref: KeyRef, actor: string): Promise<KeyInfo> {
    // Wipe first as well: no cached data key of this version may be served while it is destroyed.
    this.cache.wipeVersion(ref);
    return this.administer(
      'destroy',
      formatKeyRef(ref),
      actor,
      () => this.provider.destroyVersion(ref),
      () => {
        this.cache.wipeVersion(ref);
        return { keyId: ref, change: 'destroyed' };
      },
    );
  }

  exportPublicKey(ref: KeyRef, actor: string): Promise<PublicKeyExport> {
    return this.runAudited('export_public', formatKeyRef(ref), actor, () => this.provider.publicKey(ref));
  }

  /** Runs a key job (an export, a re-wrap) and records its outcome like the other operations. */
  runAudited<T>(operation: KeyOperation, target: string, actor: string, run: () => Promise<T>): Promise<T> {
    return this.trail.run(operation, target, actor, run);
  }

  /** Applies a change announced by another replica: wipes what this replica cached. */
  applyRemoteChange(change: KeyChange): void {
    if (change.kind === 'rotated') this.cache.wipeEncryptSide(change.keyId.name);
    else this.cache.wipeVersion(change.keyId);
  }

  /** A key change: audited; `after` wipes what it must and names the change for other replicas. */
  private administer(
    operation: KeyOperation,
    target: string,
    actor: string,
    run: () => Promise<KeyInfo>,
    after: (info: KeyInfo) => { keyId: KeyRef; change?: KeyChange['kind'] },
  ): Promise<KeyInfo> {
    return this.trail.run(operation, target, actor, run, (info) => {
      const { keyId, change } = after(info);
      if (change) this.onChange?.({ kind: change, keyId });
      return { keyId: formatKeyRef(keyId), algorithm: info.algorithm };
    });
  }

  async close(): Promise<void> {
    this.cache.wipeAll();
    await this.provider.close();
  }
}
