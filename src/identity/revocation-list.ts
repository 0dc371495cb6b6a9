import type { StateBus } from '../store/index.js';
import {
  checkReason,
  checkTarget,
  MAX_ACTOR_LENGTH,
  normaliseValue,
  parseRevocation,
  REVOCATION_KINDS,
  RevocationInputRefused,
  revocationOf,
  serialiseRevocation,
  wireOf,
  type Revocation,
  type RevocationKind,
  type SequencedRevocation,
} from './revocation-kinds.js';

export {
  REVOCATION_KINDS,
  RevocationInputRefused,
  tokenHash,
  revocationTarget,
  type Revocation,
  type RevocationKind,
} from './revocation-kinds.js';

/**
 * Bus layout (under the bus's key prefix). `revocations:seq` counts revocations ever made; slot
 * `revocations:log:<n>` holds the n-th, with the revocation's own TTL; every revocation is also
 * published on the `revocations` channel. A replica applies what it hears at once and polls the
 * counter every `resyncIntervalMs`, reading the slots it has not seen: a lost message (a
 * subscriber reconnecting, a network blip) is caught by the next poll. `revocations:snapshot`
 * holds every live revocation up to some n, rewritten by one replica per `snapshotIntervalMs`,
 * so that a starting replica reads one key plus the recent slots, not every slot ever written.
 */
const CHANNEL = 'revocations';
const SEQ_KEY = 'revocations:seq';
const SNAPSHOT_KEY = 'revocations:snapshot';
const SNAPSHOT_LOCK = 'revocations:snapshot-lock';
const slotKey = (n: number): string => `revocations:log:${n}`;

/** Slots read at once (one pipelined burst on Redis). */
const FETCH_BATCH = 256;
/** A missing slot this close to the head may be one whose writer has counted but not yet written. */
const PENDING_WINDOW = 1024;
const PRINTABLE = /^[^\p{Cc}\p{Cs}]+$/u;

/** Longest lifetime a revocation may ask for unless configured otherwise: 400 days. */
export const DEFAULT_MAX_TTL_MS = 400 * 86_400_000;
/** Lifetime of a revocation given none unless configured otherwise: 24 hours. */
export const DEFAULT_TTL_MS = 86_400_000;

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

export interface RevokeInput {
  readonly kind: RevocationKind;
  readonly value: string;
  readonly reason?: string;
  /** How long the revocation lasts; default `defaultTtlMs`, at most `maxTtlMs`. */
  readonly ttlMs?: number;
  readonly actor: string;
}

export interface RevocationListOptions {
  readonly bus: StateBus;
  /** Lifetime of a revocation given none: the longest lifetime of a token it could stop. Default 24 h. */
  readonly defaultTtlMs?: number;
  /** Longest lifetime a revocation may ask for. Default 400 days. */
  readonly maxTtlMs?: number;
  /** How often the log is polled for revocations the subscription missed. Default 500 ms. */
  readonly resyncIntervalMs?: number;
  /** How often one replica rewrites the snapshot. Default 60 s; 0 never writes one. */
  readonly snapshotIntervalMs?: number;
  /** A missing slot is retried for this long (a writer between counting and writing). Default 2 s. */
  readonly pendingGraceMs?: number;
  /** Listen on the channel (default true). Off, revocations arrive by polling only. */
  readonly subscribe?: boolean;
  readonly now?: () => number;
  /** Told of failures in the background (polls, snapshots, publications); never of secrets. */
  readonly onError?: (err: unknown, during: 'resync' | 'snapshot' | 'publish') => void;
}

type Listener = (revocation: Revocation) => void;

function stripped(r: SequencedRevocation): Revocation {
  const { kind, value, reason, actor, revokedAt, expiresAt } = r;
  return { kind, value, reason, actor, revokedAt, expiresAt };
}

/**
 * Revocations shared by every replica through the StateBus. `isRevoked` is synchronous and O(1):
 * it reads an in-memory map per kind, kept current by the bus subscription and by polling (a
 * revocation made anywhere is seen everywhere within `resyncIntervalMs` plus one round trip,
 * even when its message was lost). Entries expire on their own; expired ones are never matched.
 */
export class RevocationList {
  readonly #bus: StateBus;
  readonly #now: () => number;
  readonly #defaultTtlMs: number;
  readonly #maxTtlMs: number;
  readonly #intervalMs: number;
  readonly #snapshotMs: number;
  readonly #graceMs: number;
  readonly #subscribe: boolean;
  readonly #onError: NonNullable<RevocationListOptions['onError']>;
  readonly #held = new Map<RevocationKind, Map<string, SequencedRevocation>>(
    REVOCATION_KINDS.map((kind) => [kind, new Map()]),
  );
  readonly #listeners = new Set<Listener>();
  /** Every slot up to here has been read (or given up on). */
  #head = 0;
  /** Slots above the head that arrived by message, so polling need not read them. */
  readonly #heard = new Set<number>();
  /** Missing slots to read again, with when they were first missing. */
  readonly #pending = new Map<number, number>();
  #syncing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => Promise<void>) | undefined;
  #lastSyncAt = 0;
  #lastSweepAt = 0;
  #lastSnapshotAt = 0;
  #state: 'new' | 'started' | 'closed' = 'new';

  constructor(options: RevocationListOptions) {
    this.#bus = options.bus;
    this.#now = options.now ?? Date.now;
    this.#defaultTtlMs = options.defaultTtlMs ?? DEFAULT_TTL_MS;
    this.#maxTtlMs = options.maxTtlMs ?? DEFAULT_MAX_TTL_MS;
    this.#intervalMs = options.resyncIntervalMs ?? 500;
    this.#snapshotMs = options.snapshotIntervalMs ?? 60_000;
    this.#graceMs = options.pendingGraceMs ?? 2000;
    this.#subscribe = options.subscribe ?? true;
    this.#onError = options.onError ?? (() => undefined);
    if (!(this.#defaultTtlMs > 0 && this.#defaultTtlMs <= this.#maxTtlMs)) {
      throw new RangeError('revocations: defaultTtlMs must be positive and at most maxTtlMs');
    }
  }

  /**
   * Subscribes, loads the snapshot and every later slot, and starts polling. Rejects (and so
   * stops a gateway's start) when the bus does not answer: a replica must not serve without
   * knowing what is revoked.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`revocations: cannot start a list that is ${this.#state}`);
    this.#state = 'started';
    try {
      // Subscribed before loading, so that nothing revoked during the load is missed.
      if (this.#subscribe) this.#unsubscribe = await this.#bus.subscribe(CHANNEL, (m) => this.#hear(m));
      await this.#loadSnapshot();
      await this.resync();
    } catch (err) {
      await this.close();
      throw err;
    }
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearInterval(this.#timer);
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    await unsubscribe?.().catch(() => undefined);
    await this.#syncing?.catch(() => undefined);
  }

  /**
   * Revokes a target everywhere: counts it, writes its slot with its TTL, applies it here, and
   * publishes it. Resolves once it is stored on the bus (a failed publication is reported to
   * `onError` only: the other replicas' next poll finds the slot). Throws RevocationInputRefused
   * (stable `code`) for invalid input.
   */
  async revoke(input: RevokeInput): Promise<Revocation> {
    if (this.#state === 'closed') throw new Error('revocations: the list is closed');
    const { kind, value } = checkTarget(input.kind, input.value);
    const reason = checkReason(input.reason);
    const ttlMs = this.#ttlOf(input.ttlMs);
    const actor = input.actor;
    if (typeof actor !== 'string' || actor.length > MAX_ACTOR_LENGTH || !PRINTABLE.test(actor)) {
      throw new TypeError(
        `revocations: actor must be printable text of at most ${MAX_ACTOR_LENGTH} characters`,
      );
    }
    const now = this.#now();
    const seq = await this.#bus.increment(SEQ_KEY, 1);
    const revocation: SequencedRevocation = {
      kind,
      value,
      reason,
      actor,
      revokedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ttlMs).toISOString(),
      seq,
      expiresAtMs: now + ttlMs,
    };
    const message = serialiseRevocation(revocation);
    await this.#bus.set(slotKey(seq), message, ttlMs);
    this.#apply(revocation);
    await this.#bus.publish(CHANNEL, message).catch((err: unknown) => this.#onError(err, 'publish'));
    return stripped(revocation);
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

  /** Called for every revocation this replica learns of (made here or elsewhere). Returns an unsubscribe. */
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

  /** Live revocations held (expired ones not yet swept included). */
  get size(): number {
    let n = 0;
    for (const map of this.#held.values()) n += map.size;
    return n;
  }

  /**
   * Throws when the last successful poll is older than `maxAgeMs` (default 5 poll intervals,
   * at least 5 s): for a readiness check, since a replica that cannot poll may miss revocations.
   */
  assertFresh(maxAgeMs = Math.max(5000, this.#intervalMs * 5)): void {
    const age = this.#now() - this.#lastSyncAt;
    if (this.#state !== 'started' || age > maxAgeMs) {
      throw new Error(`revocation list is stale: last synchronised ${Math.round(age)} ms ago`);
    }
  }

  /** Reads every slot not yet seen. Runs by itself every `resyncIntervalMs`; callable for tests. */
  resync(): Promise<void> {
    this.#syncing ??= this.#readLog().finally(() => (this.#syncing = undefined));
    return this.#syncing;
  }

  #ttlOf(ttlMs: number | undefined): number {
    if (ttlMs === undefined) return this.#defaultTtlMs;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000 || ttlMs > this.#maxTtlMs) {
      throw new RevocationInputRefused(
        'invalid_ttl',
        `ttl must be a whole number of milliseconds from 1000 to ${this.#maxTtlMs}`,
      );
    }
    return ttlMs;
  }

  #hear(message: string): void {
    const revocation = parseRevocation(message);
    if (!revocation) return;
    if (revocation.seq > this.#head) this.#heard.add(revocation.seq);
    this.#apply(revocation);
  }

  /** Holds a revocation (the later expiry wins for one target) and tells the listeners. */
  #apply(r: SequencedRevocation): void {
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

  async #loadSnapshot(): Promise<void> {
    const text = await this.#bus.get(SNAPSHOT_KEY);
    if (text === undefined) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    const snapshot = parsed as { seq?: unknown; entries?: unknown };
    if (
      typeof snapshot.seq !== 'number' ||
      !Number.isSafeInteger(snapshot.seq) ||
      !Array.isArray(snapshot.entries)
    ) {
      return;
    }
    const seq = Number((await this.#bus.get(SEQ_KEY)) ?? 0);
    // A snapshot ahead of the counter belongs to a counter that was reset: read the log instead.
    if (snapshot.seq > seq) return;
    for (const entry of snapshot.entries as unknown[]) {
      const r =
        typeof entry === 'object' && entry !== null
          ? revocationOf(entry as Record<string, unknown>)
          : undefined;
      if (r) this.#apply(r);
    }
    this.#head = snapshot.seq;
  }

  async #readLog(): Promise<void> {
    const now = this.#now();
    const seq = Number((await this.#bus.get(SEQ_KEY)) ?? 0);
    if (!Number.isSafeInteger(seq) || seq < 0) throw new Error('revocations: the counter is not a number');
    if (seq < this.#head) {
      // The bus lost its state (a Redis without persistence restarted): read the new log from 1.
      this.#head = 0;
      this.#heard.clear();
      this.#pending.clear();
    }
    const wanted: number[] = [...this.#pending.keys()];
    for (let n = this.#head + 1; n <= seq; n++) if (!this.#heard.has(n)) wanted.push(n);
    for (let i = 0; i < wanted.length; i += FETCH_BATCH) {
      const batch = wanted.slice(i, i + FETCH_BATCH);
      const texts = await Promise.all(batch.map((n) => this.#bus.get(slotKey(n))));
      batch.forEach((n, j) => {
        const text = texts[j];
        const r = text === undefined ? undefined : parseRevocation(text);
        if (r) {
          this.#pending.delete(n);
          this.#apply(r);
        } else if (text === undefined && n > seq - PENDING_WINDOW && !this.#pending.has(n)) {
          this.#pending.set(n, now);
        }
      });
    }
    for (const [n, since] of this.#pending) if (now - since > this.#graceMs) this.#pending.delete(n);
    this.#head = seq;
    for (const n of this.#heard) if (n <= seq) this.#heard.delete(n);
    this.#lastSyncAt = this.#now();
  }

  #tick(): void {
    if (this.#state !== 'started') return;
    this.resync()
      .then(() => this.#maybeSnapshot())
      .catch((err: unknown) => this.#onError(err, 'resync'));
    const now = this.#now();
    if (now - this.#lastSweepAt > 30_000) {
      this.#lastSweepAt = now;
      for (const map of this.#held.values())
        for (const [value, r] of map) if (r.expiresAtMs <= now) map.delete(value);
    }
  }

  async #maybeSnapshot(): Promise<void> {
    const now = this.#now();
    if (this.#snapshotMs <= 0 || now - this.#lastSnapshotAt < this.#snapshotMs) return;
    this.#lastSnapshotAt = now;
    try {
      // One replica per interval writes it; the others skip.
      if ((await this.#bus.increment(SNAPSHOT_LOCK, 1, this.#snapshotMs)) !== 1) return;
      // Everything up to `upTo` has been read, so the snapshot holds every live revocation up to it.
      const upTo = Math.min(this.#head, ...[...this.#pending.keys()].map((n) => n - 1));
      const entries: SequencedRevocation[] = [];
      for (const map of this.#held.values()) {
        for (const r of map.values()) if (r.seq <= upTo && r.expiresAtMs > now) entries.push(r);
      }
      await this.#bus.set(SNAPSHOT_KEY, JSON.stringify({ v: 1, seq: upTo, entries: entries.map(wireOf) }));
    } catch (err) {
      this.#onError(err, 'snapshot');
    }
  }
}
