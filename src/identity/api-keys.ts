import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../core/index.js';
import type { ApiKeyRecord, ApiKeyRepository } from '../store/index.js';

/**
 * Service-account API keys: `ztk_<id>_<secret>`. The id (12 base32 characters, 60 bits) is public
 * and names the stored row; the secret (43 base62 characters, 256 bits) is shown once and only a
 * hash of it is stored.
 */
export const API_KEY_PREFIX = 'ztk_';
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const SECRET_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_LENGTH = 12;
/** 43 × log2(62) ≈ 256.03 bits. */
const SECRET_LENGTH = 43;
/** Every well-formed key has exactly this many characters. */
export const API_KEY_LENGTH = API_KEY_PREFIX.length + ID_LENGTH + 1 + SECRET_LENGTH;
const API_KEY_SHAPE = /^ztk_([a-z2-7]{12})_([0-9A-Za-z]{43})$/;
const KEY_ID_SHAPE = /^[a-z2-7]{12}$/;
const HASH_SCHEME = 's256';

/** Why a presented key was refused. `unavailable`: the store did not answer (not the caller's fault). */
export type ApiKeyRefusal =
  'malformed' | 'unknown_key' | 'invalid_secret' | 'expired' | 'revoked' | 'unavailable';

/** What a verified key says about its caller. */
export interface VerifiedApiKey {
  readonly keyId: string;
  readonly service: string;
  readonly scopes: readonly string[];
  /** ISO-8601, or null for a key that does not expire. */
  readonly expiresAt: string | null;
}

export type ApiKeyVerification =
  | { readonly ok: true; readonly key: VerifiedApiKey }
  | { readonly ok: false; readonly reason: Exclude<ApiKeyRefusal, 'unavailable'> }
  | { readonly ok: false; readonly reason: 'unavailable'; readonly cause: unknown };

/** Anything that knows revoked key ids (the RevocationList fits). Must be synchronous and cheap. */
export interface ApiKeyRevocations {
  isRevoked(query: { readonly apiKeyId: string }): { readonly revoked: boolean };
}

/** Uniformly random characters of `alphabet` (rejection sampling: no modulo bias). */
function randomString(alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit && out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

/**
 * The stored form of a secret. A plain SHA-256 (with the key id and a version label mixed in)
 * is enough: a slow password KDF exists to make guessing low-entropy passwords expensive, and a
 * uniformly random 256-bit secret cannot be guessed whatever the hash costs. A fast hash also
 * keeps verification cheap, so that presenting random keys cannot exhaust the CPU.
 */
export function hashApiKeySecret(keyId: string, secret: string): string {
  const digest = createHash('sha256').update(`ztgate-api-key-v1\u0000${keyId}\u0000${secret}`).digest();
  return `${HASH_SCHEME}:${digest.toString('base64url')}`;
}

/** Splits a presented key, or undefined when it is not exactly `ztk_<id>_<secret>`. Linear time. */
export function parseApiKey(presented: unknown): { keyId: string; secret: string } | undefined {
  // The length check comes first, so the pattern never runs over an oversized input.
  if (typeof presented !== 'string' || presented.length !== API_KEY_LENGTH) return undefined;
  const match = API_KEY_SHAPE.exec(presented);
  if (!match) return undefined;
  return { keyId: match[1] as string, secret: match[2] as string };
}

/** True for a string shaped like an API key id (for CLI and admin input). */
export function isApiKeyId(value: string): boolean {
  return value.length === ID_LENGTH && KEY_ID_SHAPE.test(value);
}

/** True when `value` looks like an API key (for callers that route bearer credentials). */
export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(API_KEY_PREFIX);
}

export interface CreateApiKeyInput {
  readonly service: string;
  readonly scopes?: readonly string[];
  /** Null or absent: the key does not expire. */
  readonly expiresAt?: Date | null;
  readonly now?: Date;
}

/**
 * Creates a key and stores its hash. The returned `key` is the only copy of the secret: show it
 * once and never log it.
 */
export async function createApiKey(
  repository: Pick<ApiKeyRepository, 'create'>,
  input: CreateApiKeyInput,
): Promise<{ readonly key: string; readonly record: ApiKeyRecord }> {
  const now = input.now ?? new Date();
  if (input.expiresAt && input.expiresAt.getTime() <= now.getTime()) {
    throw new RangeError('api keys: expiresAt must be in the future');
  }
  const id = randomString(ID_ALPHABET, ID_LENGTH);
  const secret = randomString(SECRET_ALPHABET, SECRET_LENGTH);
  const record: ApiKeyRecord = {
    id,
    service: input.service,
    scopes: [...new Set(input.scopes ?? [])].sort(),
    hash: hashApiKeySecret(id, secret),
    createdAt: now.toISOString(),
    expiresAt: input.expiresAt ? input.expiresAt.toISOString() : null,
    revokedAt: null,
    lastUsedAt: null,
  };
  await repository.create(record);
  return { key: `${API_KEY_PREFIX}${id}_${secret}`, record };
}

/** Compares two hash strings in constant time (for equal lengths; lengths are not secret). */
function sameHash(stored: string, computed: string): boolean {
  const a = Buffer.from(stored);
  const b = Buffer.from(computed);
  // Compared even when the lengths differ, so that the work done does not depend on the row.
  return timingSafeEqual(a.length === b.length ? a : b, b) && a.length === b.length;
}

/**
 * Checks one presented key against the store, without caching: format first (no lookup for
 * anything malformed), then the constant-time hash comparison, then revocation and expiry. A key
 * whose secret is wrong is refused as `invalid_secret` whatever its state, so that its state is
 * not revealed to someone without the secret.
 */
export async function verifyApiKey(
  presented: unknown,
  repository: Pick<ApiKeyRepository, 'get'>,
  options: { readonly now?: number; readonly revocations?: ApiKeyRevocations } = {},
): Promise<ApiKeyVerification> {
  const parsed = parseApiKey(presented);
  if (!parsed) return { ok: false, reason: 'malformed' };
  let record: ApiKeyRecord | undefined;
  try {
    record = await repository.get(parsed.keyId);
  } catch (cause) {
    return { ok: false, reason: 'unavailable', cause };
  }
  const computed = hashApiKeySecret(parsed.keyId, parsed.secret);
  if (!record) {
    sameHash(computed, computed);
    return { ok: false, reason: 'unknown_key' };
  }
  if (!sameHash(record.hash, computed)) return { ok: false, reason: 'invalid_secret' };
  return stateOf(
    {
      keyId: record.id,
      service: record.service,
      scopes: record.scopes,
      expiresAt: record.expiresAt,
    },
    record.revokedAt !== null,
    options.now ?? Date.now(),
    options.revocations,
  );
}

function stateOf(
  key: VerifiedApiKey,
  revokedInStore: boolean,
  now: number,
  revocations: ApiKeyRevocations | undefined,
): ApiKeyVerification {
  if (revokedInStore || revocations?.isRevoked({ apiKeyId: key.keyId }).revoked) {
    return { ok: false, reason: 'revoked' };
  }
  if (key.expiresAt !== null && Date.parse(key.expiresAt) <= now) return { ok: false, reason: 'expired' };
  return { ok: true, key };
}

export interface ApiKeyVerifierOptions {
  readonly repository: Pick<ApiKeyRepository, 'get' | 'markUsed'>;
  /** Consulted on every verification, cached or not. */
  readonly revocations?: ApiKeyRevocations;
  /** How long a verified key is trusted without asking the store again. Default 10 s. */
  readonly cacheTtlMs?: number;
  /** Most cached keys; the oldest goes first. Default 10,000. 0 disables the cache. */
  readonly cacheSize?: number;
  /** `lastUsedAt` is written at most this often per key. Default 60 s; 0 never writes it. */
  readonly touchIntervalMs?: number;
  readonly now?: () => number;
  /** Told when a best-effort `lastUsedAt` write fails. */
  readonly onTouchError?: (err: unknown) => void;
}

interface CacheEntry {
  readonly key: VerifiedApiKey;
  readonly cachedUntil: number;
}

/**
 * Verifies presented keys with a small in-process cache of verified ones: bounded, short-lived
 * (the store's revocations and expiries are seen within `cacheTtlMs`), keyed by the SHA-256 of
 * the presented key (never the key), and always re-checked against the revocation list and the
 * key's expiry, so a revocation on the bus takes effect on the next request.
 */
export class ApiKeyVerifier {
  readonly #options: ApiKeyVerifierOptions;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<ApiKeyVerification>>();
  readonly #touched = new Map<string, number>();
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #size: number;
  readonly #touchMs: number;

  constructor(options: ApiKeyVerifierOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.cacheTtlMs ?? 10_000;
    this.#size = options.cacheSize ?? 10_000;
    this.#touchMs = options.touchIntervalMs ?? 60_000;
  }

  async verify(presented: unknown): Promise<ApiKeyVerification> {
    if (!parseApiKey(presented)) return { ok: false, reason: 'malformed' };
    const cacheKey = createHash('sha256')
      .update(presented as string)
      .digest('base64url');
    const now = this.#now();
    const cached = this.#cache.get(cacheKey);
    if (cached && cached.cachedUntil > now) {
      const result = stateOf(cached.key, false, now, this.#options.revocations);
      if (!result.ok) this.#cache.delete(cacheKey);
      else this.#touch(cached.key.keyId, now);
      return result;
    }
    if (cached) this.#cache.delete(cacheKey);
    // Concurrent requests with one key share one store lookup.
    let pending = this.#inFlight.get(cacheKey);
    if (!pending) {
      pending = verifyApiKey(presented, this.#options.repository, {
        now,
        ...(this.#options.revocations ? { revocations: this.#options.revocations } : {}),
      }).finally(() => this.#inFlight.delete(cacheKey));
      this.#inFlight.set(cacheKey, pending);
    }
    const result = await pending;
    if (result.ok) {
      this.#remember(cacheKey, result.key, this.#now());
      this.#touch(result.key.keyId, this.#now());
    }
    return result;
  }

  /** Drops cached verifications of one key (for example when the revocation list says so). */
  evict(keyId: string): number {
    let n = 0;
    for (const [cacheKey, entry] of this.#cache) {
      if (entry.key.keyId === keyId) {
        this.#cache.delete(cacheKey);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.#cache.size;
  }

  #remember(cacheKey: string, key: VerifiedApiKey, now: number): void {
    if (this.#size <= 0 || this.#ttlMs <= 0) return;
    this.#cache.delete(cacheKey);
    while (this.#cache.size >= this.#size) {
      const oldest = this.#cache.keys().next();
      if (oldest.done) break;
      this.#cache.delete(oldest.value);
    }
    this.#cache.set(cacheKey, { key, cachedUntil: now + this.#ttlMs });
  }

  #touch(keyId: string, now: number): void {
    if (this.#touchMs <= 0) return;
    const last = this.#touched.get(keyId);
    if (last !== undefined && now - last < this.#touchMs) return;
    // Bounded like the cache: forgetting a time only means one extra write.
    if (this.#touched.size >= Math.max(1, this.#size)) this.#touched.clear();
    this.#touched.set(keyId, now);
    this.#options.repository
      .markUsed(keyId, new Date(now).toISOString())
      .catch((err: unknown) => this.#options.onTouchError?.(err));
  }
}

/** The Principal an API key stands for: the service account, with the key id and scopes as attributes. */
export function principalOfApiKey(key: VerifiedApiKey): Principal {
  return {
    kind: 'service',
    id: `service:${key.service}`,
    issuer: 'ztgate:api-key',
    subject: key.service,
    authMethod: 'api_key',
    roles: [],
    groups: [],
    ...(key.expiresAt === null ? {} : { expiresAt: Math.floor(Date.parse(key.expiresAt) / 1000) }),
    attributes: { apiKeyId: key.keyId, scopes: key.scopes },
  };
}
