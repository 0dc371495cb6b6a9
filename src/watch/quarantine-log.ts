import { MAX_ACTOR_LENGTH, MAX_REASON_LENGTH, MAX_VALUE_LENGTH } from '../identity/revocation-kinds.js';
import type { StateBus } from '../store/index.js';

/**
 * Bus layout (under the bus's key prefix), as for revocations (identity/revocation-log.ts):
 * `quarantine:seq` counts events ever made; slot `quarantine:log:<n>` holds the n-th event
 * (a quarantine or a release), and every event is also published on the `quarantine` channel.
 * A replica applies what it hears at once and polls the counter every `resyncIntervalMs`,
 * reading the slots it has not seen, so a lost message is caught by the next poll.
 * `quarantine:snapshot` holds every active quarantine up to some n, rewritten by one replica per
 * `snapshotIntervalMs`: a starting replica reads it plus the slots after n.
 *
 * Lifetimes: the counter and the snapshot have no TTL. A quarantine's slot has no TTL when the
 * quarantine has no `until`, else it lives until `until` plus SLOT_RETENTION_MS; a release's
 * slot lives SLOT_RETENTION_MS. When a quarantine is released or replaced, the replica that did
 * so gives the superseded slot a TTL of SLOT_RETENTION_MS. So no slot expires while the
 * quarantine it holds is active, and what is over leaves the bus after a week.
 */
export const QUARANTINE_CHANNEL = 'quarantine';
export const QUARANTINE_SEQ_KEY = 'quarantine:seq';
export const QUARANTINE_SNAPSHOT_KEY = 'quarantine:snapshot';
const SNAPSHOT_LOCK = 'quarantine:snapshot-lock';
export const quarantineSlotKey = (n: number): string => `quarantine:log:${n}`;

/** How long a slot outlives what it holds (a replica this far behind is not serving): 7 days. */
export const SLOT_RETENTION_MS = 7 * 86_400_000;
export const MAX_INCIDENT_LENGTH = 256;
/** Longest list of approvers a release may carry. */
export const MAX_ACTORS = 16;

/** Slots read at once (one pipelined burst on Redis). */
const FETCH_BATCH = 256;
/** A missing slot this close to the head may be one whose writer has counted but not yet written. */
const PENDING_WINDOW = 1024;

export const QUARANTINE_KINDS = ['workspace', 'principal', 'device', 'session'] as const;
export type QuarantineKind = (typeof QUARANTINE_KINDS)[number];

export interface QuarantineTarget {
  readonly kind: QuarantineKind;
  /** Printable (no control characters, no lone surrogates), 1 to 512 characters. */
  readonly id: string;
}

/** An active (or expired, if `until` has passed) quarantine, as every replica holds it. */
export interface QuarantineRecord {
  readonly target: QuarantineTarget;
  readonly reason: string;
  readonly incidentId?: string;
  /** Who quarantined (an admin, a playbook). */
  readonly actor: string;
  /** When, in ms since the epoch. */
  readonly at: number;
  /** When it ends by itself (ms since the epoch); absent: until released. */
  readonly until?: number;
  /** Its position in the bus log (0 when the bus lost its log since; see QuarantineLog.readLog). */
  readonly seq: number;
}

export interface QuarantineImposed extends QuarantineRecord {
  readonly type: 'quarantine';
}

export interface QuarantineReleased {
  readonly type: 'release';
  readonly target: QuarantineTarget;
  /** The admins who approved the release (at least two distinct). */
  readonly actors: readonly string[];
  readonly at: number;
  readonly seq: number;
}

/** One entry of the log: applied in log order by every replica. */
export type QuarantineEvent = QuarantineImposed | QuarantineReleased;

/** Printable text without control characters (C0, DEL, C1) or lone surrogates. */
const PRINTABLE = /^[^\p{Cc}\p{Cs}]+$/u;

export function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max && PRINTABLE.test(value);
}

export function isKind(value: unknown): value is QuarantineKind {
  return typeof value === 'string' && (QUARANTINE_KINDS as readonly string[]).includes(value);
}

export const isId = (value: unknown): value is string => isText(value, MAX_VALUE_LENGTH);
export const isReason = (value: unknown): value is string => isText(value, MAX_REASON_LENGTH);
export const isActor = (value: unknown): value is string => isText(value, MAX_ACTOR_LENGTH);
export const isIncident = (value: unknown): value is string => isText(value, MAX_INCIDENT_LENGTH);
const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The map key of a target: kind and id cannot collide (a kind holds no NUL). */
export const targetKey = (kind: QuarantineKind, id: string): string => `${kind}\u0000${id}`;

/** Latest `until` a quarantine may ask for, from now: 10 years. */
export const MAX_UNTIL_AHEAD_MS = 3650 * 86_400_000;

/** Stable codes for refused quarantine input (used by the CLI and the admin API). */
export type QuarantineInputError =
  | 'invalid_target'
  | 'invalid_reason'
  | 'invalid_incident'
  | 'invalid_actor'
  | 'invalid_until'
  | 'four_eyes_required';

export class QuarantineInputRefused extends Error {
  constructor(
    readonly code: QuarantineInputError,
    message: string,
  ) {
    super(message);
    this.name = 'QuarantineInputRefused';
  }
}

function targetOf(value: unknown): QuarantineTarget | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, id } = value as Record<string, unknown>;
  return isKind(kind) && isId(id) ? Object.freeze({ kind, id }) : undefined;
}

export function checkTarget(target: unknown): QuarantineTarget {
  const checked = targetOf(target);
  if (checked) return checked;
  throw new QuarantineInputRefused(
    'invalid_target',
    `target must be { kind: ${QUARANTINE_KINDS.join(' | ')}, id: printable text of at most ${MAX_VALUE_LENGTH} characters }`,
  );
}

export function checkActor(actor: unknown, what: string): string {
  if (!isActor(actor)) {
    throw new QuarantineInputRefused(
      'invalid_actor',
      `${what} must be printable text of at most ${MAX_ACTOR_LENGTH} characters`,
    );
  }
  return actor;
}

/** Checks what `QuarantineList.quarantine` is given: an event but for its position in the log. */
export function checkImposition(input: unknown, now: number): Omit<QuarantineImposed, 'seq'> {
  const given = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const target = checkTarget(given.target);
  const { reason, incidentId, untilMs } = given;
  if (!isReason(reason)) {
    throw new QuarantineInputRefused(
      'invalid_reason',
      `reason must be printable text of 1 to ${MAX_REASON_LENGTH} characters`,
    );
  }
  if (incidentId !== undefined && !isIncident(incidentId)) {
    throw new QuarantineInputRefused(
      'invalid_incident',
      `incidentId must be printable text of at most ${MAX_INCIDENT_LENGTH} characters`,
    );
  }
  const actor = checkActor(given.actor, 'actor');
  if (untilMs !== undefined && !(isTime(untilMs) && untilMs > now && untilMs - now <= MAX_UNTIL_AHEAD_MS)) {
    throw new QuarantineInputRefused(
      'invalid_until',
      'untilMs must be a whole number of milliseconds since the epoch, in the future, at most 10 years ahead',
    );
  }
  return {
    type: 'quarantine',
    target,
    reason,
    ...(incidentId === undefined ? {} : { incidentId }),
    actor,
    at: now,
    ...(untilMs === undefined ? {} : { until: untilMs }),
  };
}

/** An event from its bus form; undefined for anything malformed (it is then ignored). */
export function eventOf(o: Record<string, unknown>): QuarantineEvent | undefined {
  const target = targetOf(o.target);
  const { seq, at } = o;
  if (!target || !isTime(seq) || !isTime(at)) return undefined;
  if (o.type === 'quarantine') {
    const { reason, incidentId, actor, until } = o;
    if (!isReason(reason) || !isActor(actor)) return undefined;
    if (incidentId !== undefined && !isIncident(incidentId)) return undefined;
    if (until !== undefined && !isTime(until)) return undefined;
    return Object.freeze({
      type: 'quarantine',
      target,
      reason,
      ...(incidentId === undefined ? {} : { incidentId }),
      actor,
      at,
      ...(until === undefined ? {} : { until }),
      seq,
    });
  }
  if (o.type === 'release') {
    const { actors } = o;
    if (!Array.isArray(actors) || actors.length > MAX_ACTORS || !actors.every(isActor)) return undefined;
    return Object.freeze({ type: 'release', target, actors: Object.freeze([...actors]), at, seq });
  }
  return undefined;
}

export function parseEvent(text: string): QuarantineEvent | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof o === 'object' && o !== null ? eventOf(o as Record<string, unknown>) : undefined;
}

/** The bus form of an event, as an object (for the snapshot) … */
export function wireOf(e: QuarantineEvent): Record<string, unknown> {
  const target = { kind: e.target.kind, id: e.target.id };
  if (e.type === 'release') {
    return { v: 1, type: 'release', seq: e.seq, target, actors: [...e.actors], at: e.at };
  }
  const { reason, incidentId, actor, at, until, seq } = e;
  return { v: 1, type: 'quarantine', seq, target, reason, incidentId, actor, at, until };
}

/** … and as text (for a log slot and a message). */
export function serialiseEvent(e: QuarantineEvent): string {
  return JSON.stringify(wireOf(e));
}

export interface QuarantineLogOptions {
  readonly bus: StateBus;
  readonly now: () => number;
  /** How often one replica rewrites the snapshot; 0 never writes one. */
  readonly snapshotIntervalMs: number;
  /** A missing slot is retried for this long (a writer between counting and writing). */
  readonly pendingGraceMs: number;
  /** Where every event read or heard goes (in any order: the holder keeps the newest per target). */
  readonly apply: (e: QuarantineEvent) => void;
  /** Active quarantines of log position `upTo` or earlier (for the snapshot). */
  readonly activeUpTo: (upTo: number, now: number) => QuarantineRecord[];
  /** The bus lost its log (the counter went back): positions held so far mean nothing any more. */
  readonly reset: () => void;
}

/**
 * The quarantine log on the StateBus, as one replica follows it: which slots it has read, heard
 * or is waiting for, the snapshot, and the writes of a new event. Every event it learns of goes
 * to `apply`; it holds none itself.
 */
export class QuarantineLog {
  readonly #bus: StateBus;
  readonly #now: () => number;
  readonly #snapshotMs: number;
  readonly #graceMs: number;
  readonly #options: QuarantineLogOptions;
  /** Every slot up to here has been read (or given up on). */
  #head = 0;
  /** Slots above the head that arrived by message, so polling need not read them. */
  readonly #heard = new Set<number>();
  /** Missing slots to read again, with when they were first missing. */
  readonly #pending = new Map<number, number>();
  #lastSnapshotAt = 0;

  constructor(options: QuarantineLogOptions) {
    this.#bus = options.bus;
    this.#now = options.now;
    this.#snapshotMs = options.snapshotIntervalMs;
    this.#graceMs = options.pendingGraceMs;
    this.#options = options;
  }

  /** Listens on the channel; resolves to the unsubscribe. */
  subscribe(): Promise<() => Promise<void>> {
    return this.#bus.subscribe(QUARANTINE_CHANNEL, (m) => this.#hear(m));
  }

  /** Counts a new event: its position in the log. */
  nextSeq(): Promise<number> {
    return this.#bus.increment(QUARANTINE_SEQ_KEY, 1);
  }

  /** Writes an event's slot (see the lifetimes above). */
  store(event: QuarantineEvent, now: number): Promise<void> {
    const ttlMs =
      event.type === 'release'
        ? SLOT_RETENTION_MS
        : event.until === undefined
          ? undefined
          : Math.max(1, event.until - now) + SLOT_RETENTION_MS;
    return this.#bus.set(quarantineSlotKey(event.seq), serialiseEvent(event), ttlMs);
  }

  publish(event: QuarantineEvent): Promise<void> {
    return this.#bus.publish(QUARANTINE_CHANNEL, serialiseEvent(event));
  }

  /**
   * Gives the slot of a superseded quarantine (released or replaced) a TTL of SLOT_RETENTION_MS.
   * Rewrites the same text (slots never change), only when it still holds that quarantine.
   */
  async retire(record: QuarantineRecord): Promise<void> {
    if (record.seq <= 0) return;
    const key = quarantineSlotKey(record.seq);
    const text = await this.#bus.get(key);
    const held = text === undefined ? undefined : parseEvent(text);
    if (!held || held.type !== 'quarantine' || held.seq !== record.seq) return;
    if (held.target.kind !== record.target.kind || held.target.id !== record.target.id) return;
    await this.#bus.set(key, text as string, SLOT_RETENTION_MS);
  }

  #hear(message: string): void {
    const event = parseEvent(message);
    if (!event) return;
    if (event.seq > this.#head) this.#heard.add(event.seq);
    this.#options.apply(event);
  }

  async loadSnapshot(): Promise<void> {
    const text = await this.#bus.get(QUARANTINE_SNAPSHOT_KEY);
    if (text === undefined) return;
    let snapshot: { seq?: unknown; entries?: unknown };
    try {
      snapshot = JSON.parse(text) as typeof snapshot;
    } catch {
      return;
    }
    if (!isTime(snapshot?.seq) || !Array.isArray(snapshot.entries)) return;
    const seq = Number((await this.#bus.get(QUARANTINE_SEQ_KEY)) ?? 0);
    // A snapshot ahead of the counter belongs to a counter that was reset: read the log instead.
    if (snapshot.seq > seq) return;
    for (const entry of snapshot.entries as unknown[]) {
      const e =
        typeof entry === 'object' && entry !== null ? eventOf(entry as Record<string, unknown>) : undefined;
      if (e?.type === 'quarantine' && e.seq <= snapshot.seq) this.#options.apply(e);
    }
    this.#head = snapshot.seq;
  }

  /** Reads every slot not yet seen. */
  async readLog(): Promise<void> {
    const now = this.#now();
    const seq = Number((await this.#bus.get(QUARANTINE_SEQ_KEY)) ?? 0);
    if (!Number.isSafeInteger(seq) || seq < 0) throw new Error('quarantine: the counter is not a number');
    if (seq < this.#head) {
      // The bus lost its state (a Redis without persistence restarted): read the new log from 1.
      this.#head = 0;
      this.#heard.clear();
      this.#pending.clear();
      this.#options.reset();
    }
    const wanted: number[] = [...this.#pending.keys()];
    for (let n = this.#head + 1; n <= seq; n++) if (!this.#heard.has(n)) wanted.push(n);
    for (let i = 0; i < wanted.length; i += FETCH_BATCH) {
      const batch = wanted.slice(i, i + FETCH_BATCH);
      const texts = await Promise.all(batch.map((n) => this.#bus.get(quarantineSlotKey(n))));
      batch.forEach((n, j) => {
        const text = texts[j];
        const e = text === undefined ? undefined : parseEvent(text);
        if (e) {
          this.#pending.delete(n);
          this.#options.apply(e);
        } else if (text === undefined && n > seq - PENDING_WINDOW && !this.#pending.has(n)) {
          this.#pending.set(n, now);
        }
      });
    }
    for (const [n, since] of this.#pending) if (now - since > this.#graceMs) this.#pending.delete(n);
    this.#head = seq;
    for (const n of this.#heard) if (n <= seq) this.#heard.delete(n);
  }

  /** Every slot up to here has been read or given up on. */
  settledUpTo(): number {
    return Math.min(this.#head, ...[...this.#pending.keys()].map((n) => n - 1));
  }

  /** Rewrites the snapshot when its interval has passed and this replica wins the lock. */
  async maybeSnapshot(): Promise<void> {
    const now = this.#now();
    if (this.#snapshotMs <= 0 || now - this.#lastSnapshotAt < this.#snapshotMs) return;
    this.#lastSnapshotAt = now;
    // One replica per interval writes it; the others skip.
    if ((await this.#bus.increment(SNAPSHOT_LOCK, 1, this.#snapshotMs)) !== 1) return;
    const upTo = this.settledUpTo();
    const entries = this.#options.activeUpTo(upTo, now).map((r) => wireOf({ type: 'quarantine', ...r }));
    await this.#bus.set(QUARANTINE_SNAPSHOT_KEY, JSON.stringify({ v: 1, seq: upTo, entries }));
  }
}
