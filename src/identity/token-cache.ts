import { createHash } from 'node:crypto';
import type { Principal } from '../core/index.js';

/**
 * The cache key and revocation handle of a token: SHA-256 (lower-case hex) of the token as sent,
 * the same value as `tokenHash` in revocation-kinds.ts.
 */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

interface Entry<T> {
  readonly value: T;
  /** ms since epoch after which the entry must not be used. */
  readonly expiresAtMs: number;
}

/**
 * A bounded cache of verified tokens, keyed by the SHA-256 of the token (never the token
 * itself). Entries expire with the token; the least recently used entry goes first when full.
 * A hit only saves the signature check: callers still apply revocation on every request.
 */
export class VerifiedTokenCache<T = Principal> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #capacity: number;
  readonly #now: () => number;

  constructor(capacity: number, now: () => number = Date.now) {
    this.#capacity = capacity;
    this.#now = now;
  }

  get(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAtMs <= this.#now()) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: T, expiresAtMs: number): void {
    if (this.#capacity === 0 || expiresAtMs <= this.#now()) return;
    this.#entries.delete(key);
    while (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAtMs });
  }

  /** Drops every entry for which `match` is true (for revocation events); returns how many. */
  evict(match: (value: T, key: string) => boolean): number {
    let n = 0;
    for (const [key, entry] of this.#entries) {
      if (match(entry.value, key)) {
        this.#entries.delete(key);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.#entries.size;
  }
}
