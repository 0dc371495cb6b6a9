import type { StateBus } from '../store/index.js';
import {
  checkReason,
  checkTarget,
  MAX_ACTOR_LENGTH,
  RevocationInputRefused,
  serialiseRevocation,
  type Revocation,
  type RevocationKind,
  type SequencedRevocation,
} from './revocation-kinds.js';
import { RevocationLog } from './revocation-log.js';
import {
  HeldRevocations,
  stripped,
  type Listener,
  type RevocationCheck,
  type RevocationQuery,
} from './revocations-held.js';

export {
  REVOCATION_KINDS,
  RevocationInputRefused,
  tokenHash,
  revocationTarget,
  type Revocation,
  type RevocationKind,
} from './revocation-kinds.js';
export type { RevocationCheck, RevocationQuery } from './revocations-held.js';

const PRINTABLE = /^[^\p{Cc}\p{Cs}]+$/u;

/** Longest lifetime a revocation may ask for unless configured otherwise: 400 days. */
export const DEFAULT_MAX_TTL_MS = 400 * 86_400_000;
/** Lifetime of a revocation given none unless configured otherwise: 24 hours. */
export const DEFAULT_TTL_MS = 86_400_000;

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

/**
 * Revocations shared by every replica through the StateBus. `isRevoked` is synchronous and O(1):
 * it reads an in-memory map per kind (revocations-held.ts), kept current by the bus subscription
 * and by polling the log (revocation-log.ts): a revocation made anywhere is seen everywhere
 * within `resyncIntervalMs` plus one round trip, even when its message was lost. Entries expire
 * on their own; expired ones are never matched.
 */
export class RevocationList {
  readonly #now: () => number;
  readonly #defaultTtlMs: number;
  readonly #maxTtlMs: number;
  readonly #intervalMs: number;
  readonly #subscribe: boolean;
  readonly #onError: NonNullable<RevocationListOptions['onError']>;
  readonly #held: HeldRevocations;
  readonly #log: RevocationLog;
  #syncing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => Promise<void>) | undefined;
  #lastSyncAt = 0;
  #lastSweepAt = 0;
  #state: 'new' | 'started' | 'closed' = 'new';

  constructor(options: RevocationListOptions) {
    this.#now = options.now ?? Date.now;
    this.#defaultTtlMs = options.defaultTtlMs ?? DEFAULT_TTL_MS;
    this.#maxTtlMs = options.maxTtlMs ?? DEFAULT_MAX_TTL_MS;
    this.#intervalMs = options.resyncIntervalMs ?? 500;
    this.#subscribe = options.subscribe ?? true;
    this.#onError = options.onError ?? (() => undefined);
    if (!(this.#defaultTtlMs > 0 && this.#defaultTtlMs <= this.#maxTtlMs)) {
      throw new RangeError('revocations: defaultTtlMs must be positive and at most maxTtlMs');
    }
    const held = new HeldRevocations(this.#now);
    this.#held = held;
    this.#log = new RevocationLog({
      bus: options.bus,
      now: this.#now,
      snapshotIntervalMs: options.snapshotIntervalMs ?? 60_000,
      pendingGraceMs: options.pendingGraceMs ?? 2000,
      apply: (r) => held.apply(r),
      liveUpTo: (upTo, now) => held.liveUpTo(upTo, now),
    });
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
      if (this.#subscribe) this.#unsubscribe = await this.#log.subscribe();
      await this.#log.loadSnapshot();
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
    const seq = await this.#log.nextSeq();
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
    await this.#log.store(seq, message, ttlMs);
    this.#held.apply(revocation);
    await this.#log.publish(message).catch((err: unknown) => this.#onError(err, 'publish'));
    return stripped(revocation);
  }

  /** Synchronous, O(1) per field: whether any given field names a live revocation. */
  isRevoked(query: RevocationQuery): RevocationCheck {
    return this.#held.isRevoked(query);
  }

  /** Called for every revocation this replica learns of (made here or elsewhere). Returns an unsubscribe. */
  onRevoked(listener: Listener): () => void {
    return this.#held.onRevoked(listener);
  }

  /** Live revocations, newest first; at most `limit` (default 1000). */
  list(options: { readonly kind?: RevocationKind; readonly limit?: number } = {}): Revocation[] {
    return this.#held.list(options);
  }

  /** Live revocations held (expired ones not yet swept included). */
  get size(): number {
    return this.#held.size;
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

  async #readLog(): Promise<void> {
    await this.#log.readLog();
    this.#lastSyncAt = this.#now();
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

  #tick(): void {
    if (this.#state !== 'started') return;
    this.resync()
      .then(() => this.#maybeSnapshot())
      .catch((err: unknown) => this.#onError(err, 'resync'));
    const now = this.#now();
    if (now - this.#lastSweepAt > 30_000) {
      this.#lastSweepAt = now;
      this.#held.sweep(now);
    }
  }

  async #maybeSnapshot(): Promise<void> {
    try {
      await this.#log.maybeSnapshot();
    } catch (err) {
      this.#onError(err, 'snapshot');
    }
  }
}
