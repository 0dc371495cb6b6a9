import type { AuditEntry, AuditReceipt } from '../core/index.js';

/** A stored audit record: the entry plus its sequence number and storage time. */
export interface AuditRecord {
  readonly seq: number;
  readonly storedAt: string;
  readonly entry: AuditEntry;
}

export interface AuditQuery {
  /** Return records with seq greater than this (for paging forward). */
  readonly afterSeq?: number;
  readonly requestId?: string;
  readonly principalId?: string;
  /** Default 100, at most 1000. */
  readonly limit?: number;
}

export interface AuditRepository {
  /** Appends one entry durably; resolves only after the write is committed. */
  append(entry: AuditEntry): Promise<AuditReceipt>;
  /** Records in ascending seq order. */
  list(query?: AuditQuery): Promise<readonly AuditRecord[]>;
  count(): Promise<number>;
}

/**
 * Durable storage. SQLite (embedded default) and PostgreSQL (scale-out) implement the same
 * contract and pass the same contract tests.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly audit: AuditRepository;
  /** Creates or upgrades the schema; idempotent; safe to run from several replicas at once. */
  migrate(): Promise<void>;
  /** Throws when the database does not answer (used by /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type BusHandler = (message: string) => void;

/**
 * Shared fast state across replicas: publish/subscribe and keys with a time to live (for
 * revocations, quarantines, rate limits). In-process by default, Redis to scale out.
 */
export interface StateBus {
  readonly kind: 'memory' | 'redis';
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is active; the returned function unsubscribes. */
  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>>;
  /** Sets a key; with `ttlMs` it disappears after that many milliseconds. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  get(key: string): Promise<string | undefined>;
  /** Returns true when the key existed. */
  delete(key: string): Promise<boolean>;
  /** Atomically adds `by` to an integer key (created at 0); sets the TTL when it creates the key. */
  increment(key: string, by: number, ttlMs?: number): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
