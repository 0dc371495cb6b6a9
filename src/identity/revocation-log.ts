import type { StateBus } from '../store/index.js';
import { parseRevocation, revocationOf, wireOf, type SequencedRevocation } from './revocation-kinds.js';

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

export interface RevocationLogOptions {
  readonly bus: StateBus;
  readonly now: () => number;
  /** How often one replica rewrites the snapshot; 0 never writes one. */
  readonly snapshotIntervalMs: number;
  /** A missing slot is retried for this long (a writer between counting and writing). */
  readonly pendingGraceMs: number;
  /** Where every revocation read or heard goes (HeldRevocations.apply). */
  readonly apply: (r: SequencedRevocation) => void;
  /** Where what is still live up to a log position comes from (HeldRevocations.liveUpTo). */
  readonly liveUpTo: (upTo: number, now: number) => SequencedRevocation[];
}

/**
 * The revocation log on the StateBus, as one replica follows it: which slots it has read, heard
 * or is waiting for, the snapshot, and the writes of a new revocation. Every revocation it learns
 * of goes to `apply`; it holds none itself.
 */
export class RevocationLog {
  readonly #bus: StateBus;
  readonly #now: () => number;
  readonly #snapshotMs: number;
  readonly #graceMs: number;
  readonly #apply: RevocationLogOptions['apply'];
  readonly #liveUpTo: RevocationLogOptions['liveUpTo'];
  /** Every slot up to here has been read (or given up on). */
  #head = 0;
  /** Slots above the head that arrived by message, so polling need not read them. */
  readonly #heard = new Set<number>();
  /** Missing slots to read again, with when they were first missing. */
  readonly #pending = new Map<number, number>();
  #lastSnapshotAt = 0;

  constructor(options: RevocationLogOptions) {
    this.#bus = options.bus;
    this.#now = options.now;
    this.#snapshotMs = options.snapshotIntervalMs;
    this.#graceMs = options.pendingGraceMs;
    this.#apply = options.apply;
    this.#liveUpTo = options.liveUpTo;
  }

  /** Listens on the channel; resolves to the unsubscribe. */
  subscribe(): Promise<() => Promise<void>> {
    return this.#bus.subscribe(CHANNEL, (m) => this.#hear(m));
  }

  /** Counts a new revocation: its position in the log. */
  nextSeq(): Promise<number> {
    return this.#bus.increment(SEQ_KEY, 1);
  }

  /** Writes the revocation's slot, living as long as the revocation. */
  store(seq: number, message: string, ttlMs: number): Promise<void> {
    return this.#bus.set(slotKey(seq), message, ttlMs);
  }

  publish(message: string): Promise<void> {
    return this.#bus.publish(CHANNEL, message);
  }

  #hear(message: string): void {
    const revocation = parseRevocation(message);
    if (!revocation) return;
    if (revocation.seq > this.#head) this.#heard.add(revocation.seq);
    this.#apply(revocation);
  }

  async loadSnapshot(): Promise<void> {
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

  /** Reads every slot not yet seen. */
  async readLog(): Promise<void> {
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
  }

  /** Rewrites the snapshot when its interval has passed and this replica wins the lock. */
  async maybeSnapshot(): Promise<void> {
    const now = this.#now();
    if (this.#snapshotMs <= 0 || now - this.#lastSnapshotAt < this.#snapshotMs) return;
    this.#lastSnapshotAt = now;
    // One replica per interval writes it; the others skip.
    if ((await this.#bus.increment(SNAPSHOT_LOCK, 1, this.#snapshotMs)) !== 1) return;
    // Everything up to `upTo` has been read, so the snapshot holds every live revocation up to it.
    const upTo = Math.min(this.#head, ...[...this.#pending.keys()].map((n) => n - 1));
    const entries = this.#liveUpTo(upTo, now);
    await this.#bus.set(SNAPSHOT_KEY, JSON.stringify({ v: 1, seq: upTo, entries: entries.map(wireOf) }));
  }
}
