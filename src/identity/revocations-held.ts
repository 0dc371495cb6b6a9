import {
  normaliseValue,
  REVOCATION_KINDS,
  type Revocation,
  type RevocationKind,
  type SequencedRevocation,
} from './revocation-kinds.js';

/** What `isRevoked` looks up; each present field is one O(1) lookup. */
export interface RevocationQuery {
  /** SHA-256 (hex) of the bearer token: `tokenHash(token)`. */
  readonly tokenHash?: string;
  readonly jti?: string;
  /** The principal id. */
  readonly subject?: string;
  readonly deviceId?: string;
  readonly sessionId?: string;
  readonly apiKeyId?: string;
  /** Hex serial of a client certificate (any case, colons allowed). */
  readonly certificateSerial?: string;
}

export interface RevocationCheck {
  readonly revoked: boolean;
  /** Which kind matched, when revoked. */
  readonly kind?: RevocationKind;
}

const QUERY_FIELDS: readonly (readonly [keyof RevocationQuery, RevocationKind])[] = [
  ['tokenHash', 'token'],
  ['jti', 'jti'],
  ['subject', 'subject'],
  ['deviceId', 'device'],
  ['sessionId', 'session'],
  ['apiKeyId', 'apikey'],
  ['certificateSerial', 'certificate'],
];

export type Listener = (revocation: Revocation) => void;

export function stripped(r: SequencedRevocation): Revocation {
  const { kind, value, reason, actor, revokedAt, expiresAt } = r;
  return { kind, value, reason, actor, revokedAt, expiresAt };
}

/**
 * The revocations one replica holds in memory: a map per kind, so that a lookup is O(1). Knows
 * nothing of the bus (revocation-log.ts); RevocationList feeds it. Expired entries are never
 * matched, and are dropped when met or swept.
 */
export class HeldRevocations {
  readonly #now: () => number;
  readonly #held = new Map<RevocationKind, Map<string, SequencedRevocation>>(
    REVOCATION_KINDS.map((kind) => [kind, new Map()]),
  );
  readonly #listeners = new Set<Listener>();

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Holds a revocation (the later expiry wins for one target) and tells the listeners. */
  apply(r: SequencedRevocation): void {
    if (r.expiresAtMs <= this.#now()) return;
    const map = this.#held.get(r.kind);
    const current = map?.get(r.value);
    if (!map || (current && current.expiresAtMs >= r.expiresAtMs)) return;
    map.set(r.value, r);
    const plain = stripped(r);
    for (const listener of this.#listeners) {
      try {
        listener(plain);
      } catch {
        // A listener's failure is its own; the others and the list go on.
      }
    }
  }

  /** Synchronous, O(1) per field: whether any given field names a live revocation. */
  isRevoked(query: RevocationQuery): RevocationCheck {
    let now: number | undefined;
    for (const [name, kind] of QUERY_FIELDS) {
      const given = query[name];
      if (given === undefined) continue;
      const value = kind === 'certificate' || kind === 'token' ? normaliseValue(kind, given) : given;
      if (value === undefined) continue;
      const held = this.#held.get(kind)?.get(value);
      if (!held) continue;
      now ??= this.#now();
      if (held.expiresAtMs > now) return { revoked: true, kind };
      this.#held.get(kind)?.delete(value);
    }
    return { revoked: false };
  }

  onRevoked(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Live revocations, newest first; at most `limit` (default 1000). */
  list(options: { readonly kind?: RevocationKind; readonly limit?: number } = {}): Revocation[] {
    const now = this.#now();
    const kinds = options.kind ? [options.kind] : REVOCATION_KINDS;
    const live: SequencedRevocation[] = [];
    for (const kind of kinds) {
      for (const r of this.#held.get(kind)?.values() ?? []) if (r.expiresAtMs > now) live.push(r);
    }
    live.sort((a, b) => (a.revokedAt < b.revokedAt ? 1 : a.revokedAt > b.revokedAt ? -1 : 0));
    return live.slice(0, Math.max(0, Math.min(options.limit ?? 1000, 10_000))).map(stripped);
  }

  /** Revocations held (expired ones not yet swept included). */
  get size(): number {
    let n = 0;
    for (const map of this.#held.values()) n += map.size;
    return n;
  }

  /** Drops every revocation expired at `now`. */
  sweep(now: number): void {
    for (const map of this.#held.values())
      for (const [value, r] of map) if (r.expiresAtMs <= now) map.delete(value);
  }

  /** Revocations of log position `upTo` or earlier still live at `now` (for the snapshot). */
  liveUpTo(upTo: number, now: number): SequencedRevocation[] {
    const entries: SequencedRevocation[] = [];
    for (const map of this.#held.values()) {
      for (const r of map.values()) if (r.seq <= upTo && r.expiresAtMs > now) entries.push(r);
    }
    return entries;
  }
}
