import type { KeyRef, WrappedKey } from './types.js';

/** Limits on how long and how much one cached data key may be used. */
export interface DataKeyCacheLimits {
  /** An entry older than this is dropped (and wiped). */
  readonly maxAgeMs: number;
  /** Encryptions (encrypt side) or decryptions (decrypt side) one entry may serve. */
  readonly maxUses: number;
  /** Plaintext bytes one entry may protect or open. */
  readonly maxBytes: number;
  /** Entries kept per side; the least recently used goes first. 0 turns the cache off. */
  readonly maxEntries: number;
}

interface Entry {
  readonly dataKey: Buffer;
  readonly wrapped: WrappedKey;
  readonly createdAt: number;
  uses: number;
  bytes: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
}

/**
 * A bounded, least-recently-used cache of plaintext data keys, so that a key provider (an HSM, a
 * Vault) is not called on every request. Two sides: `encrypt` entries are keyed by partition
 * (key-encryption key name, tenant, purpose) and are used only when a caller asked for per-period
 * data keys; `decrypt` entries are keyed by the wrapped key they came from. Every entry that
 * leaves the cache is zero-filled.
 *
 * INVARIANT: entries of a key version that is rotated, disabled or destroyed are wiped before the
 * change is reported done (see KeyManager), so a destroyed version's data keys cannot be served
 * from here.
 */
export class DataKeyCache {
  private readonly sides = { encrypt: new Map<string, Entry>(), decrypt: new Map<string, Entry>() };
  readonly stats: CacheStats = { hits: 0, misses: 0, evictions: 0 };

  constructor(
    private readonly limits: DataKeyCacheLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.limits.maxEntries > 0;
  }

  /** A usable entry for `id` that can take `bytes` more, counting this use; else undefined. */
  take(
    side: 'encrypt' | 'decrypt',
    id: string,
    bytes: number,
  ): { dataKey: Buffer; wrapped: WrappedKey } | undefined {
    const map = this.sides[side];
    const entry = map.get(id);
    if (!entry) {
      this.stats.misses++;
      return undefined;
    }
    const expired = this.now() - entry.createdAt >= this.limits.maxAgeMs;
    if (expired || entry.uses >= this.limits.maxUses || entry.bytes + bytes > this.limits.maxBytes) {
      this.drop(map, id, entry);
      this.stats.misses++;
      return undefined;
    }
    entry.uses++;
    entry.bytes += bytes;
    map.delete(id);
    map.set(id, entry);
    this.stats.hits++;
    return { dataKey: entry.dataKey, wrapped: entry.wrapped };
  }

  /** Caches a copy of `dataKey`, counting the use that produced it. */
  put(side: 'encrypt' | 'decrypt', id: string, dataKey: Buffer, wrapped: WrappedKey, bytes: number): void {
    if (!this.enabled || bytes > this.limits.maxBytes) return;
    const map = this.sides[side];
    const old = map.get(id);
    if (old) this.drop(map, id, old);
    map.set(id, { dataKey: Buffer.from(dataKey), wrapped, createdAt: this.now(), uses: 1, bytes });
    while (map.size > this.limits.maxEntries) {
      const [oldestId, oldest] = map.entries().next().value as [string, Entry];
      this.drop(map, oldestId, oldest);
    }
  }

  /** Wipes the encrypt-side entries of a key (after a rotation: new data keys go under the new version). */
  wipeEncryptSide(name: string): void {
    this.wipeWhere('encrypt', (e) => e.wrapped.keyId.name === name);
  }

  /** Wipes encrypt-side entries of a key under versions older than its primary. */
  wipeEncryptSideBelow(name: string, primaryVersion: number): void {
    this.wipeWhere(
      'encrypt',
      (e) => e.wrapped.keyId.name === name && e.wrapped.keyId.version < primaryVersion,
    );
  }

  /** Wipes every entry under one key version (disable, destroy). */
  wipeVersion(ref: KeyRef): void {
    const match = (e: Entry): boolean =>
      e.wrapped.keyId.name === ref.name && e.wrapped.keyId.version === ref.version;
    this.wipeWhere('encrypt', match);
    this.wipeWhere('decrypt', match);
  }

  wipeAll(): void {
    this.wipeWhere('encrypt', () => true);
    this.wipeWhere('decrypt', () => true);
  }

  size(side: 'encrypt' | 'decrypt'): number {
    return this.sides[side].size;
  }

  private wipeWhere(side: 'encrypt' | 'decrypt', match: (entry: Entry) => boolean): void {
    const map = this.sides[side];
    for (const [id, entry] of [...map.entries()]) if (match(entry)) this.drop(map, id, entry);
  }

  private drop(map: Map<string, Entry>, id: string, entry: Entry): void {
    entry.dataKey.fill(0);
    map.delete(id);
    this.stats.evictions++;
  }
}
