import type { Principal } from '../core/index.js';

interface Entry {
  readonly principal: Principal;
  /** ms since epoch after which the entry must not be used. */
  readonly expiresAtMs: number;
}

/**
 * A bounded cache of verified tokens, keyed by the SHA-256 of the token (never the token
 * itself). Entries expire with the token; the least recently used entry goes first when full.
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #capacity: number;
  readonly #now: () => number;

  constructor(capacity: number, now: () => number = Date.now) {
    this.#capacity = capacity;
    this.#now = now;
  }

  get(key: string): Principal | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAtMs <= this.#now()) return undefined;
    this.#entries.set(key, entry);
    return entry.principal;
  }

  set(key: string, principal: Principal, expiresAtMs: number): void {
    if (this.#capacity === 0) return;
    this.#entries.delete(key);
    while (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { principal, expiresAtMs });
  }

  /** Drops every entry for which `match` is true (for revocation). */
  evict(match: (principal: Principal) => boolean): number {
    let n = 0;
    for (const [key, entry] of this.#entries) {
      if (match(entry.principal)) {
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
