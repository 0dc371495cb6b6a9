import type { StateBus } from '../store/index.js';
import {
  checkActor,
  checkImposition,
  checkTarget,
  isKind,
  MAX_ACTORS,
  QuarantineInputRefused,
  QuarantineLog,
  targetKey,
  type QuarantineEvent,
  type QuarantineImposed,
  type QuarantineKind,
  type QuarantineRecord,
  type QuarantineReleased,
  type QuarantineTarget,
} from './quarantine-log.js';

export {
  MAX_UNTIL_AHEAD_MS,
  QUARANTINE_KINDS,
  QuarantineInputRefused,
  SLOT_RETENTION_MS,
  type QuarantineInputError,
  type QuarantineEvent,
  type QuarantineImposed,
  type QuarantineKind,
  type QuarantineRecord,
  type QuarantineReleased,
  type QuarantineTarget,
} from './quarantine-log.js';

export interface QuarantineInput {
  readonly target: QuarantineTarget;
  /** Printable text, 1 to 500 characters. */
  readonly reason: string;
  readonly incidentId?: string;
  readonly actor: string;
  /** When it ends by itself (ms since the epoch, in the future); absent: until released. */
  readonly untilMs?: number;
}

export interface ReleaseInput {
  readonly target: QuarantineTarget;
  /** The admins who approved the release: at least two distinct. */
  readonly actors: readonly string[];
}

/** Who a request is for; each present field is one O(1) lookup. */
export interface QuarantineSubject {
  readonly principalId?: string | null;
  readonly deviceId?: string | null;
  readonly sessionId?: string | null;
  readonly workspace?: string | null;
}

export interface QuarantineListOptions {
  readonly bus: StateBus;
  /** How often the log is polled for events the subscription missed. Default 250 ms. */
  readonly resyncIntervalMs?: number;
  /** How often one replica rewrites the snapshot. Default 60 s; 0 never writes one. */
  readonly snapshotIntervalMs?: number;
  /** A missing slot is retried for this long (a writer between counting and writing). Default 2 s. */
  readonly pendingGraceMs?: number;
  readonly now?: () => number;
  /** Told of failures in the background (`resync`, `snapshot`, `publish`, `retire`). */
  readonly onError?: (err: unknown, during: string) => void;
  /** Told of every event this replica applies (made here or elsewhere); not of expiries. */
  readonly onChange?: (e: QuarantineEvent) => void;
}

/** What one replica knows of one target: the newest event's position, and the quarantine if any. */
interface Held {
  readonly seq: number;
  readonly record: QuarantineRecord | undefined;
  /** When it became a tombstone (released or expired), local time. */
  readonly since: number;
}

/** How long a release (or an expiry) is remembered to order late events against it: 10 minutes. */
const TOMBSTONE_MS = 10 * 60_000;

const SUBJECT_FIELDS: readonly (readonly [keyof QuarantineSubject, QuarantineKind])[] = [
  ['principalId', 'principal'],
  ['deviceId', 'device'],
  ['sessionId', 'session'],
  ['workspace', 'workspace'],
];

/**
 * The quarantine list shared by every replica through the StateBus, built like the revocation
 * list (identity/revocation-list.ts): `check` is synchronous and O(1), reading an in-memory map
 * kept current by the bus subscription and by polling the log (quarantine-log.ts), so an event
 * made anywhere is seen everywhere within `resyncIntervalMs` plus one round trip, even when its
 * message was lost. Events are ordered by their log position per target: a release or a newer
 * quarantine wins over an older quarantine whatever order they arrive in. Expired quarantines
 * (`until` passed) are never matched.
 */
export class QuarantineList {
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #onError: (err: unknown, during: string) => void;
  readonly #onChange: ((e: QuarantineEvent) => void) | undefined;
  readonly #held = new Map<string, Held>();
  readonly #log: QuarantineLog;
  #syncing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => Promise<void>) | undefined;
  #lastSyncAt = 0;
  #lastSweepAt = 0;
  #state: 'new' | 'started' | 'closed' = 'new';

  constructor(options: QuarantineListOptions) {
    this.#now = options.now ?? Date.now;
    this.#intervalMs = options.resyncIntervalMs ?? 250;
    this.#onError = options.onError ?? (() => undefined);
    this.#onChange = options.onChange;
    if (!(Number.isFinite(this.#intervalMs) && this.#intervalMs > 0)) {
      throw new RangeError('quarantine: resyncIntervalMs must be a positive number');
    }
    this.#log = new QuarantineLog({
      bus: options.bus,
      now: this.#now,
      snapshotIntervalMs: options.snapshotIntervalMs ?? 60_000,
      pendingGraceMs: options.pendingGraceMs ?? 2000,
      apply: (e) => this.#apply(e),
      activeUpTo: (upTo, now) => this.#activeUpTo(upTo, now),
      reset: () => this.#rebase(),
    });
  }

  /**
   * Subscribes, loads the snapshot and every later slot, and starts polling. Rejects (and so
   * stops a gateway's start) when the bus does not answer: a replica must not serve without
   * knowing what is quarantined.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`quarantine: cannot start a list that is ${this.#state}`);
    this.#state = 'started';
    try {
      // Subscribed before loading, so that nothing quarantined during the load is missed.
      this.#unsubscribe = await this.#log.subscribe();
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
   * Quarantines a target everywhere (replacing its current quarantine, if any): counts the
   * event, writes its slot, applies it here and publishes it. Resolves once it is stored on the
   * bus (a failed publication goes to `onError` only: the other replicas' next poll finds the
   * slot). Throws QuarantineInputRefused (stable `code`) for invalid input.
   */
  async quarantine(input: QuarantineInput): Promise<QuarantineRecord> {
    this.#assertOpen();
    const now = this.#now();
    const fields = checkImposition(input, now);
    const seq = await this.#log.nextSeq();
    const event: QuarantineImposed = Object.freeze({ ...fields, seq });
    await this.#log.store(event, now);
    const key = targetKey(event.target.kind, event.target.id);
    const superseded = this.#held.get(key)?.record;
    this.#apply(event);
    const held = this.#held.get(key)?.record;
    await this.#announce(event, superseded);
    return held?.seq === seq ? held : recordOf(event);
  }

  /**
   * Releases a target everywhere. Refuses fewer than two distinct `actors` (four-eyes: who may
   * approve is the caller's policy). Polls the log first, so that a quarantine made elsewhere a
   * moment ago is known; resolves to false (and writes nothing) when the target is not
   * quarantined (never was, released, or expired).
   */
  async release(input: ReleaseInput): Promise<boolean> {
    this.#assertOpen();
    const given = (input ?? {}) as Partial<ReleaseInput>;
    const target = checkTarget(given.target);
    const distinct = checkApprovers(given.actors);
    await this.resync();
    const superseded = this.get(target);
    if (!superseded) return false;
    const seq = await this.#log.nextSeq();
    const now = this.#now();
    const event: QuarantineReleased = Object.freeze({
      type: 'release',
      target,
      actors: distinct,
      at: now,
      seq,
    });
    await this.#log.store(event, now);
    this.#apply(event);
    await this.#announce(event, superseded);
    return true;
  }

  /** O(1), synchronous: the first active quarantine among the subject's targets, or undefined. */
  check(subject: QuarantineSubject): QuarantineRecord | undefined {
    let now: number | undefined;
    for (const [field, kind] of SUBJECT_FIELDS) {
      const id = subject[field];
      if (typeof id !== 'string') continue;
      const record = this.#held.get(targetKey(kind, id))?.record;
      if (!record) continue;
      now ??= this.#now();
      if (record.until === undefined || record.until > now) return record;
    }
    return undefined;
  }

  /** The target's active quarantine, or undefined. */
  get(target: QuarantineTarget): QuarantineRecord | undefined {
    if (!isKind(target?.kind) || typeof target.id !== 'string') return undefined;
    const record = this.#held.get(targetKey(target.kind, target.id))?.record;
    return record && (record.until === undefined || record.until > this.#now()) ? record : undefined;
  }

  /** Active quarantines, newest first. */
  list(): QuarantineRecord[] {
    const now = this.#now();
    const active: QuarantineRecord[] = [];
    for (const { record } of this.#held.values()) {
      if (record && (record.until === undefined || record.until > now)) active.push(record);
    }
    return active.sort((a, b) => b.at - a.at || b.seq - a.seq);
  }

  /**
   * Throws when the last successful poll is older than `maxAgeMs` (default 5 poll intervals, at
   * least 5 s): for a readiness check, since a replica that cannot poll may miss quarantines.
   */
  assertFresh(maxAgeMs = Math.max(5000, this.#intervalMs * 5)): void {
    const age = this.#now() - this.#lastSyncAt;
    if (this.#state !== 'started' || age > maxAgeMs) {
      throw new Error(`quarantine list is stale: last synchronised ${Math.round(age)} ms ago`);
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

  #assertOpen(): void {
    if (this.#state === 'closed') throw new Error('quarantine: the list is closed');
  }

  /** Publishes an event just stored, then retires the slot of the quarantine it superseded. */
  async #announce(event: QuarantineEvent, superseded: QuarantineRecord | undefined): Promise<void> {
    await this.#log.publish(event).catch((err: unknown) => this.#onError(err, 'publish'));
    if (superseded && superseded.seq < event.seq) {
      await this.#log.retire(superseded).catch((err: unknown) => this.#onError(err, 'retire'));
    }
  }

  /** Holds an event unless this replica already knows a newer one for its target. */
  #apply(e: QuarantineEvent): void {
    const key = targetKey(e.target.kind, e.target.id);
    const current = this.#held.get(key);
    if (current && current.seq >= e.seq) return;
    const record = e.type === 'quarantine' ? recordOf(e) : undefined;
    this.#held.set(key, { seq: e.seq, record, since: this.#now() });
    try {
      this.#onChange?.(e);
    } catch {
      // A listener's failure is its own; the list goes on.
    }
  }

  #activeUpTo(upTo: number, now: number): QuarantineRecord[] {
    const active: QuarantineRecord[] = [];
    for (const { seq, record } of this.#held.values()) {
      if (record && seq <= upTo && (record.until === undefined || record.until > now)) active.push(record);
    }
    return active;
  }

  /**
   * The bus lost its log: keep every quarantine held (failing closed) at position 0, so that any
   * event of the new log orders after it, and forget the releases.
   */
  #rebase(): void {
    for (const [key, held] of this.#held) {
      if (held.record) this.#held.set(key, { seq: 0, record: { ...held.record, seq: 0 }, since: held.since });
      else this.#held.delete(key);
    }
  }

  /** Turns expired quarantines into tombstones; forgets tombstones no late event can need. */
  #sweep(now: number): void {
    const settled = this.#log.settledUpTo();
    for (const [key, held] of this.#held) {
      if (held.record?.until !== undefined && held.record.until <= now) {
        this.#held.set(key, { seq: held.seq, record: undefined, since: now });
      } else if (!held.record && held.seq <= settled && now - held.since > TOMBSTONE_MS) {
        this.#held.delete(key);
      }
    }
  }

  #tick(): void {
    if (this.#state !== 'started') return;
    this.resync()
      .then(() => this.#maybeSnapshot())
      .catch((err: unknown) => this.#onError(err, 'resync'));
    const now = this.#now();
    if (now - this.#lastSweepAt > 30_000) {
      this.#lastSweepAt = now;
      this.#sweep(now);
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

/** The distinct approvers of a release: at least two (four-eyes), else QuarantineInputRefused. */
function checkApprovers(actors: unknown): readonly string[] {
  if (!Array.isArray(actors) || actors.length > MAX_ACTORS) {
    throw new QuarantineInputRefused('invalid_actor', `actors must be a list of at most ${MAX_ACTORS}`);
  }
  const distinct = [...new Set(actors.map((a) => checkActor(a, 'each actor')))];
  if (distinct.length < 2) {
    throw new QuarantineInputRefused(
      'four_eyes_required',
      'a release needs the approval of at least two distinct actors',
    );
  }
  return Object.freeze(distinct);
}

/** The record of a quarantine event (what the list holds and returns). */
function recordOf(e: QuarantineImposed): QuarantineRecord {
  const { target, reason, incidentId, actor, at, until, seq } = e;
  return Object.freeze({
    target,
    reason,
    ...(incidentId === undefined ? {} : { incidentId }),
    actor,
    at,
    ...(until === undefined ? {} : { until }),
    seq,
  });
}
