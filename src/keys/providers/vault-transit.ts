/**
 * The `vault-transit` provider: keys live in a HashiCorp Vault Transit secrets engine and never leave
 * it; ztgate asks Vault to wrap, unwrap, sign and verify over its HTTP API.
 * API reference: https://developer.hashicorp.com/vault/api-docs/secret/transit (request and answer
 * shapes are noted at each call) and hashicorp/vault builtin/logical/transit/path_*.go.
 *
 * Versions are Vault's key versions; the primary is `latest_version`. Vault has no per-version
 * switch, only floors, so retiring works oldest-first:
 * - disable v  = raise `min_decryption_version` to v+1 (v must be the oldest usable version);
 * - enable v   = lower it back to v (v must be the newest disabled version);
 * - destroy v  = raise the floors to v+1, then trim (`min_available_version` = v+1), which deletes
 *   the material of every version below it (v must be the oldest version not yet destroyed).
 * Anything else is `unsupported_operation`.
 *
 * Not offered, on purpose: generateDataKey (Vault's datakey takes no associated_data) and rewrapKey
 * (Vault's rewrap ignores associated_data, hashicorp/vault#31791), so either would drop the AAD
 * binding that wrapKey gives. Callers fall back to node:crypto + wrapKey, and unwrap + wrap.
 */
import { KeyError } from '../errors.js';
import { assertKeyName, formatKeyRef, SIGNATURE_SHAPE } from '../key-id.js';
import { exportPublicKey } from '../public-key.js';
import {
  KEY_ALGORITHMS,
  type KeyAlgorithm,
  type KeyInfo,
  type KeyProvider,
  type KeyRef,
  type KeySignature,
  type PublicKeyExport,
  type WrappedKey,
} from '../types.js';
import { VaultHttp, type VaultAnswer } from './vault-transit-http.js';
import {
  decodeSignature,
  encodeSignature,
  hasSignatureShape,
  isUsableType,
  parseVaultKey,
  parseVersioned,
  publicKeyObject,
  VAULT_HASH,
  VAULT_TYPE,
  type SigningAlgorithm,
  type VaultKey,
} from './vault-transit-keys.js';
import { planDestroy, planDisable, planEnable, type RetirePlan } from './vault-transit-retire.js';
import { assertAlgorithmFor, assertDataKeySize, usableVersion } from './version-rules.js';

export interface VaultTransitOptions {
  /** For example https://vault.internal:8200. */
  readonly address: string;
  /** Already resolved from its secret reference; never logged or put in errors. */
  readonly token: string;
  /** Default `transit`. */
  readonly mount?: string;
  /** Vault Enterprise namespace (X-Vault-Namespace). */
  readonly namespace?: string;
  /** A PEM CA bundle that replaces the system CAs. */
  readonly caPem?: string;
  /** Per request; default 5000. */
  readonly timeoutMs?: number;
}

/** A mount path: segments of letters, digits, `_`, `-` and `.`, none of them `.` or `..`. */
const MOUNT = /^(?!\.{1,2}(\/|$))[A-Za-z0-9_.-]+(\/(?!\.{1,2}(\/|$))[A-Za-z0-9_.-]+)*$/;
/** Vault's message for a ciphertext or signature below min_decryption_version (keysutil ErrTooOld). */
const TOO_OLD = /disallowed by policy \(too old\)/;
/** Vault's 400 messages for an unknown key on write paths (encrypt, decrypt, sign, config, trim...). */
const NO_KEY = /key not found|no existing key named|invalid key name|could not delete key/;

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

class VaultTransitProvider implements KeyProvider {
  readonly kind = 'vault-transit';
  readonly description: string;
  private closed = false;

  constructor(
    private readonly http: VaultHttp,
    private readonly mount: string,
  ) {
    this.description = `vault-transit (${http.where}, mount ${mount}): keys held by Vault, never exported`;
  }

  private async call(
    what: string,
    method: 'GET' | 'POST',
    path: string,
    body?: Readonly<Record<string, unknown>>,
    query?: string,
  ): Promise<VaultAnswer> {
    if (this.closed) throw new KeyError('provider_closed', 'the vault-transit key provider is closed');
    return this.http.call(what, method, `${this.mount}/${path}`, body, query);
  }

  /** Throws for anything but 2xx: unknown key → key_not_found, the rest → provider_error. */
  private expectOk(what: string, name: string, answer: VaultAnswer): void {
    if (answer.status >= 200 && answer.status < 300) return;
    if (answer.status === 404 || (answer.status === 400 && answer.errors.some((e) => NO_KEY.test(e)))) {
      throw new KeyError('key_not_found', `vault-transit: no key named ${name} in mount ${this.mount}`);
    }
    throw this.http.unexpected(what, answer);
  }

  /** GET /v1/:mount/keys/:name (read key). */
  private async read(name: string): Promise<VaultKey> {
    assertKeyName(name);
    const what = `read key ${name}`;
    const answer = await this.call(what, 'GET', `keys/${name}`);
    this.expectOk(what, name, answer);
    return parseVaultKey(name, answer.data);
  }

  /** The key after a write: recent Vaults answer writes with the key (200), older ones with 204. */
  private async afterWrite(name: string, answer: VaultAnswer): Promise<VaultKey> {
    return answer.data && typeof answer.data.type === 'string'
      ? parseVaultKey(name, answer.data)
      : this.read(name);
  }

  /** A key and version the contract lets us use for `use`, or the contract's KeyError. */
  private async usable(ref: KeyRef, use: 'wrap' | 'sign'): Promise<VaultKey> {
    const key = await this.read(ref.name);
    assertAlgorithmFor(ref.name, key.info.algorithm, use);
    usableVersion(ref.name, key.info.versions, ref.version);
    return key;
  }

  /** After Vault said "too old": a racing disable/destroy; report it in the contract's terms. */
  private async raced(ref: KeyRef, use: 'wrap' | 'sign'): Promise<never> {
    await this.usable(ref, use);
    throw new KeyError(
      'provider_error',
      `vault-transit: Vault refused ${formatKeyRef(ref)} as too old, yet the key reads as usable`,
    );
  }

  async listKeys(): Promise<readonly KeyInfo[]> {
    // LIST /v1/:mount/keys, sent as GET ?list=true; answer data.keys: string[]; 404 when there are none.
    const answer = await this.call('list keys', 'GET', 'keys', undefined, 'list=true');
    if (answer.status === 404) return [];
    if (answer.status !== 200) throw this.http.unexpected('list keys', answer);
    const names = Array.isArray(answer.data?.keys) ? answer.data.keys : [];
    const infos = await Promise.all(
      names.map(async (name): Promise<KeyInfo | null> => {
        if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) return null;
        const read = await this.call(`read key ${name}`, 'GET', `keys/${name}`);
        if (read.status === 404) return null; // deleted meanwhile
        this.expectOk(`read key ${name}`, name, read);
        return isUsableType(read.data) ? parseVaultKey(name, read.data).info : null; // not a type we use
      }),
    );
    return infos.filter((i): i is KeyInfo => i !== null).sort((a, b) => a.name.localeCompare(b.name));
  }

  async describeKey(name: string): Promise<KeyInfo> {
    return (await this.read(name)).info;
  }

  async createKey(name: string, algorithm: KeyAlgorithm): Promise<KeyInfo> {
    assertKeyName(name);
    if (!KEY_ALGORITHMS.includes(algorithm)) {
      throw new KeyError('invalid_argument', `unknown key algorithm ${String(algorithm)}`);
    }
    const exists = await this.call(`read key ${name}`, 'GET', `keys/${name}`);
    if (exists.status !== 404) {
      this.expectOk(`read key ${name}`, name, exists);
      throw new KeyError('key_exists', `a key named ${name} already exists in Vault mount ${this.mount}`);
    }
    // POST /v1/:mount/keys/:name {type}; Vault upserts, warning "key <name> already existed".
    const what = `create key ${name}`;
    const answer = await this.call(what, 'POST', `keys/${name}`, { type: VAULT_TYPE[algorithm] });
    this.expectOk(what, name, answer);
    if (answer.warnings.some((w) => w.includes('already existed'))) {
      throw new KeyError('key_exists', `a key named ${name} already exists in Vault mount ${this.mount}`);
    }
    return (await this.afterWrite(name, answer)).info;
  }

  async rotateKey(name: string): Promise<KeyInfo> {
    await this.read(name);
    // POST /v1/:mount/keys/:name/rotate (no body).
    const what = `rotate key ${name}`;
    const answer = await this.call(what, 'POST', `keys/${name}/rotate`);
    this.expectOk(what, name, answer);
    return (await this.afterWrite(name, answer)).info;
  }

  /** Applies a retirement plan: config (POST keys/:name/config), then trim (POST keys/:name/trim). */
  private async retire(
    ref: KeyRef,
    change: string,
    plan: (key: VaultKey, ref: KeyRef) => RetirePlan,
  ): Promise<KeyInfo> {
    const key = await this.read(ref.name);
    const { config, trimTo } = plan(key, ref);
    if (!config && trimTo === undefined) return key.info;
    let answer: VaultAnswer | undefined;
    if (config) {
      const what = `${change} ${formatKeyRef(ref)}`;
      answer = await this.call(what, 'POST', `keys/${ref.name}/config`, config);
      this.expectOk(what, ref.name, answer);
    }
    if (trimTo !== undefined) {
      // Deletes the material of every version below min_available_version.
      const what = `${change} ${formatKeyRef(ref)} (trim)`;
      answer = await this.call(what, 'POST', `keys/${ref.name}/trim`, { min_available_version: trimTo });
      this.expectOk(what, ref.name, answer);
    }
    return (await this.afterWrite(ref.name, answer as VaultAnswer)).info;
  }

  disableVersion(ref: KeyRef): Promise<KeyInfo> {
    return this.retire(ref, 'disable', planDisable);
  }

  enableVersion(ref: KeyRef): Promise<KeyInfo> {
    return this.retire(ref, 'enable', planEnable);
  }

  destroyVersion(ref: KeyRef): Promise<KeyInfo> {
    return this.retire(ref, 'destroy', planDestroy);
  }

  async wrapKey(name: string, dataKey: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    assertDataKeySize(dataKey);
    const key = await this.read(name);
    assertAlgorithmFor(name, key.info.algorithm, 'wrap');
    usableVersion(name, key.info.versions, key.latest);
    // POST /v1/:mount/encrypt/:name {plaintext, associated_data} (base64 both; AAD since Vault 1.13,
    // hashicorp/vault#17638) → data.ciphertext "vault:vN:base64(nonce||ct||tag)", data.key_version.
    const what = `wrap with key ${name}`;
    const answer = await this.call(what, 'POST', `encrypt/${name}`, {
      plaintext: b64(dataKey),
      associated_data: b64(aad),
    });
    this.expectOk(what, name, answer);
    const ciphertext = answer.data?.ciphertext;
    const parsed = typeof ciphertext === 'string' ? parseVersioned(ciphertext) : null;
    if (!parsed) throw this.http.unexpected(what, answer);
    return { keyId: { name, version: parsed.version }, bytes: Buffer.from(ciphertext as string, 'utf8') };
  }

  async unwrapKey(wrapped: WrappedKey, aad: Uint8Array): Promise<Buffer> {
    const ref = wrapped.keyId;
    await this.usable(ref, 'wrap');
    const id = formatKeyRef(ref);
    const ciphertext = wrapped.bytes.toString('utf8');
    const parsed = parseVersioned(ciphertext);
    if (!parsed || parsed.version !== ref.version) {
      throw new KeyError(
        'unwrap_failed',
        `the data key wrapped under ${id} is malformed or names another version`,
      );
    }
    // POST /v1/:mount/decrypt/:name {ciphertext, associated_data} → data.plaintext (base64).
    // 400 "cipher: message authentication failed" (Go's GCM) for other AAD or a tampered ciphertext.
    const what = `unwrap with key ${id}`;
    const answer = await this.call(what, 'POST', `decrypt/${ref.name}`, {
      ciphertext,
      associated_data: b64(aad),
    });
    if (answer.status === 400 && answer.errors.some((e) => TOO_OLD.test(e))) return this.raced(ref, 'wrap');
    if (answer.status === 400 && !answer.errors.some((e) => NO_KEY.test(e))) {
      throw new KeyError(
        'unwrap_failed',
        `the data key wrapped under ${id} did not authenticate (tampered, or other context)`,
      );
    }
    this.expectOk(what, ref.name, answer);
    const plaintext = answer.data?.plaintext;
    if (typeof plaintext !== 'string') throw this.http.unexpected(what, answer);
    return Buffer.from(plaintext, 'base64');
  }

  async sign(name: string, data: Uint8Array): Promise<KeySignature> {
    const key = await this.read(name);
    assertAlgorithmFor(name, key.info.algorithm, 'sign');
    usableVersion(name, key.info.versions, key.latest);
    const algorithm = key.info.algorithm as SigningAlgorithm;
    const hash = VAULT_HASH[algorithm];
    // POST /v1/:mount/sign/:name(/:hash_algorithm) {input (base64), marshaling_algorithm: "jws" for
    // ECDSA (r||s, base64url)} → data.signature "vault:vN:...", data.key_version.
    const what = `sign with key ${name}`;
    const answer = await this.call(what, 'POST', hash ? `sign/${name}/${hash}` : `sign/${name}`, {
      input: b64(data),
      ...(hash ? { marshaling_algorithm: 'jws' } : {}),
    });
    this.expectOk(what, name, answer);
    const text = answer.data?.signature;
    const parsed = typeof text === 'string' ? parseVersioned(text) : null;
    const signature = parsed ? decodeSignature(algorithm, parsed.body) : Buffer.alloc(0);
    if (!parsed || signature.length !== SIGNATURE_SHAPE[algorithm].bytes) {
      throw this.http.unexpected(what, answer);
    }
    return { keyId: { name, version: parsed.version }, signature };
  }

  async verify(ref: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const key = await this.usable(ref, 'sign');
    const algorithm = key.info.algorithm as SigningAlgorithm;
    if (!hasSignatureShape(algorithm, signature)) return false;
    const hash = VAULT_HASH[algorithm];
    // POST /v1/:mount/verify/:name(/:hash_algorithm) {input, signature: "vault:vN:...",
    // marshaling_algorithm} → data.valid.
    const what = `verify with key ${formatKeyRef(ref)}`;
    const answer = await this.call(what, 'POST', hash ? `verify/${ref.name}/${hash}` : `verify/${ref.name}`, {
      input: b64(data),
      signature: `vault:v${ref.version}:${encodeSignature(algorithm, signature)}`,
      ...(hash ? { marshaling_algorithm: 'jws' } : {}),
    });
    if (answer.status === 400 && answer.errors.some((e) => TOO_OLD.test(e))) return this.raced(ref, 'sign');
    this.expectOk(what, ref.name, answer);
    if (typeof answer.data?.valid !== 'boolean') throw this.http.unexpected(what, answer);
    return answer.data.valid;
  }

  async publicKey(ref: KeyRef): Promise<PublicKeyExport> {
    const key = await this.usable(ref, 'sign');
    const algorithm = key.info.algorithm as SigningAlgorithm;
    const id = formatKeyRef(ref);
    const formatted = key.versions.get(ref.version)?.publicKey;
    if (!formatted) {
      throw new KeyError('provider_error', `vault-transit: Vault returned no public key for ${id}`);
    }
    return exportPublicKey(ref, algorithm, publicKeyObject(algorithm, formatted, id));
  }

  async ping(): Promise<void> {
    if (this.closed) throw new KeyError('provider_closed', 'the vault-transit key provider is closed');
    // GET /v1/auth/token/lookup-self: cheap, authenticated, allowed by Vault's default policy.
    const answer = await this.http.call('ping (token lookup-self)', 'GET', 'auth/token/lookup-self');
    if (answer.status !== 200) throw this.http.unexpected('ping (token lookup-self)', answer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.http.close();
  }
}

/** Checks the options and returns the provider; Vault is first contacted by the first call. */
export async function createVaultTransitProvider(options: VaultTransitOptions): Promise<KeyProvider> {
  const mount = (options.mount ?? 'transit').replace(/^\/+|\/+$/g, '');
  if (!MOUNT.test(mount)) {
    throw new KeyError('invalid_argument', 'vault-transit: the mount is a path like transit');
  }
  if (!options.token) throw new KeyError('invalid_argument', 'vault-transit: the token is empty');
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new KeyError('invalid_argument', 'vault-transit: timeoutMs is a positive whole number');
  }
  const http = new VaultHttp({
    address: options.address,
    token: options.token,
    timeoutMs,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.caPem === undefined ? {} : { caPem: options.caPem }),
  });
  return new VaultTransitProvider(http, mount);
}
