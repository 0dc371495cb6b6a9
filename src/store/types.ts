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
  /**
   * Only records stored at or after this time: ISO-8601 in `Date.prototype.toISOString` form
   * (`storedAt` is compared as text).
   */
  readonly since?: string;
  /** Only records stored before this time (same form as `since`). */
  readonly until?: string;
  readonly decision?: 'allow' | 'deny';
  readonly modelId?: string;
  readonly dataClass?: string;
  readonly phase?: AuditEntry['phase'];
  /** Default 100, at most 1000. */
  readonly limit?: number;
}

/**
 * One ledger leaf as stored. `text` is the leaf's data, canonical JSON (RFC 8785):
 * `{"entry":<AuditEntry>,"index":<index>,"storedAt":"<ISO-8601>"}`, and `leafHash` is
 * SHA-256(0x00 ‖ UTF-8(text)) as written at append time (a hint: verifiers recompute it).
 */
export interface LedgerLeaf {
  /** 0-based leaf index; the record's seq is index + 1. */
  readonly index: number;
  readonly leafHash: Buffer;
  readonly text: string;
}

/** The tree over every appended leaf, as the sequencer left it. */
export interface TreeHead {
  readonly size: number;
  /** RFC 9162 root hash (SHA-256 of the empty string when size is 0). */
  readonly rootHash: Buffer;
}

/** A signed tree head as stored: the C2SP checkpoint note and what it commits to. */
export interface StoredCheckpoint {
  readonly size: number;
  readonly rootHash: Buffer;
  /** The signed note text (checkpoint body, blank line, signature lines). */
  readonly note: string;
  /** ISO-8601. */
  readonly createdAt: string;
}

/**
 * The audit log is the tamper-evident ledger: every append assigns the next leaf index inside the
 * write transaction (dense, no gaps, also across processes), stores the leaf with its hash, the
 * perfect subtrees (level ≥ 1) it completes, and the new frontier, all in one durable commit.
 */
export interface AuditRepository {
  /** Appends one entry durably; resolves only after the write is committed. */
  append(entry: AuditEntry): Promise<AuditReceipt>;
  /** Records in ascending seq order. */
  list(query?: AuditQuery): Promise<readonly AuditRecord[]>;
  count(): Promise<number>;
  /** Size and root of the whole log (read from the sequencer's state, O(log n)). */
  treeHead(): Promise<TreeHead>;
  /** Stored leaves with index in [start, end), ascending; fewer when the log is shorter. */
  leaves(start: number, end: number): Promise<readonly LedgerLeaf[]>;
  /** Stored leaf hashes [start, end), ascending. */
  leafHashes(start: number, end: number): Promise<readonly Buffer[]>;
  /** The stored hash of the perfect subtree (level ≥ 1, index), or undefined. */
  node(level: number, index: number): Promise<Buffer | undefined>;
  /**
   * The first leaf index whose query columns (request, principal, phase, storedAt, decision, model,
   * data class) differ from its leaf text, or undefined. The columns are an index outside the
   * tree; this is how verification covers them (one pass in the database).
   */
  firstColumnMismatch(): Promise<number | undefined>;
  /** Stores a checkpoint; false when one for that size exists already (the first one stays). */
  addCheckpoint(checkpoint: StoredCheckpoint): Promise<boolean>;
  /** The checkpoint with the largest size. */
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  /** Checkpoints with size > afterSize (default 0, so the empty tree's too), ascending by size. */
  checkpoints(query?: { afterSize?: number; limit?: number }): Promise<readonly StoredCheckpoint[]>;
}

/** One stored envelope. `namespace` groups objects of one kind (for example `pseudonyms`). */
export interface EncryptedObject {
  readonly namespace: string;
  readonly id: string;
  /** Key-encryption key name and version that wrap this object's data key (from the envelope header). */
  readonly keyName: string;
  readonly keyVersion: number;
  readonly envelope: Buffer;
  /** ISO-8601 times. */
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * Durable storage of envelope-encrypted objects, for the key layer: a re-wrap job finds what an
 * older key version still wraps and swaps envelopes without overwriting a concurrent writer, and
 * a key version is counted before it is crypto-shredded.
 *
 * Namespaces, ids and key names are non-empty strings of at most 256 characters (no NUL, no lone
 * surrogates); versions are positive integers. Names and ids order by their UTF-8 bytes in every
 * implementation. Invalid input rejects with a TypeError that names the argument, never its value.
 */
export interface EncryptedObjectRepository {
  /** Inserts or replaces (namespace, id). */
  put(object: {
    namespace: string;
    id: string;
    keyName: string;
    keyVersion: number;
    envelope: Buffer;
  }): Promise<void>;
  get(namespace: string, id: string): Promise<EncryptedObject | undefined>;
  /** True when it existed. */
  delete(namespace: string, id: string): Promise<boolean>;
  /**
   * Objects (any namespace) whose data key is wrapped under `keyName` at a version below `belowVersion`,
   * ordered by (namespace, id), strictly after `after` when given; at most `limit` (default 100, max 1000).
   */
  listWrappedBelow(
    keyName: string,
    belowVersion: number,
    options?: { after?: { namespace: string; id: string }; limit?: number },
  ): Promise<readonly EncryptedObject[]>;
  /**
   * Replaces the envelope (and key version) only if the stored envelope still equals `expected`
   * byte for byte; returns whether it replaced. Used by the re-wrap job.
   */
  replaceIfUnchanged(
    namespace: string,
    id: string,
    expected: Buffer,
    next: { keyVersion: number; envelope: Buffer },
  ): Promise<boolean>;
  /** How many objects each version of `keyName` wraps: { 1: 10, 3: 2 }. */
  countByVersion(keyName: string): Promise<Readonly<Record<number, number>>>;
}

/** One stored API key of a service account. Never holds the secret: only its hash. */
export interface ApiKeyRecord {
  /** Public key id (the `<id>` in `ztk_<id>_<secret>`). */
  readonly id: string;
  /** The service account the key authenticates. */
  readonly service: string;
  readonly scopes: readonly string[];
  /** `<scheme>:<digest>` of the secret (see identity/api-keys.ts); compared in constant time. */
  readonly hash: string;
  /** ISO-8601 times (`Date.prototype.toISOString` form). */
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
}

/** What `ApiKeyRepository.create` stores. */
export interface NewApiKey {
  readonly id: string;
  readonly service: string;
  readonly scopes: readonly string[];
  readonly hash: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
}

export interface ApiKeyQuery {
  readonly service?: string;
  /** Return keys whose id sorts after this one (for paging forward). */
  readonly after?: string;
  /** Default 100, at most 1000. */
  readonly limit?: number;
}

/**
 * Durable storage of service-account API keys. Ids are 1-64 characters of [a-z0-9]; services
 * 1-64 of [a-z0-9._-] starting with a letter or digit; scopes 1-64 of [a-z0-9:._*-]
 * (at most 32); times are ISO-8601 in `toISOString` form, so they order as text. Invalid input
 * rejects with a TypeError that names the argument, never its value.
 */
export interface ApiKeyRepository {
  /** Stores a new key; rejects when the id exists. */
  create(key: NewApiKey): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** Keys in id order (never filtered by state: the caller shows revoked and expired ones). */
  list(query?: ApiKeyQuery): Promise<readonly ApiKeyRecord[]>;
  /** Sets `revokedAt` unless already set (the first revocation time stays). Undefined when no such key. */
  revoke(id: string, at: string): Promise<ApiKeyRecord | undefined>;
  /** Brings `expiresAt` forward to `at` (never later than it was). Undefined when no such key. */
  expire(id: string, at: string): Promise<ApiKeyRecord | undefined>;
  /** Moves `lastUsedAt` forward to `at` (never back). Best effort: callers throttle it. */
  markUsed(id: string, at: string): Promise<void>;
}

/** A control-plane record: an incident, an approval. Metadata only; content that is sensitive goes to encrypted objects. */
export interface ControlRecord {
  /** What kind of record, e.g. `incident`, `approval`: 1-32 of [a-z0-9_-], starting with a-z. */
  readonly namespace: string;
  /** 1-128 of [A-Za-z0-9._:-]. */
  readonly id: string;
  /** e.g. open, acknowledged, resolved, pending, approved, denied, released (same shape as `namespace`). */
  readonly status: string;
  /** Who or what it is about, e.g. `principal:alice`: printable text of at most 512 characters. */
  readonly subject: string | null;
  /** ISO-8601 times (`Date.prototype.toISOString` form). */
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Starts at 1, +1 on every update. */
  readonly version: number;
  /** A JSON object, at most 64 KiB serialised. */
  readonly body: Readonly<Record<string, unknown>>;
}

export interface ControlRecordQuery {
  readonly namespace: string;
  readonly status?: string;
  readonly subject?: string;
  /** Newest first by (created_at, id); page with `before` = the last record's {createdAt, id}. */
  readonly before?: { readonly createdAt: string; readonly id: string };
  /** Default 100, at most 1000. */
  readonly limit?: number;
}

/**
 * Durable storage of control-plane records (incidents, approvals), keyed by (namespace, id).
 * Invalid input rejects with a TypeError (a RangeError for a subject or body that is too large)
 * that names the argument, never its value.
 */
export interface ControlRecordRepository {
  /** Inserts; false when (namespace, id) exists already (nothing changed). */
  create(record: Omit<ControlRecord, 'version' | 'updatedAt'>): Promise<boolean>;
  get(namespace: string, id: string): Promise<ControlRecord | undefined>;
  list(query: ControlRecordQuery): Promise<readonly ControlRecord[]>;
  /**
   * Compare-and-set: replaces status/body (and updatedAt) only if the stored version is `expectedVersion`;
   * returns the new record, or undefined when the version moved on (a concurrent update) or it does not exist.
   */
  update(
    namespace: string,
    id: string,
    expectedVersion: number,
    next: { status: string; body: Readonly<Record<string, unknown>>; updatedAt: string },
  ): Promise<ControlRecord | undefined>;
  /** Counts by status in a namespace. */
  countByStatus(namespace: string): Promise<Readonly<Record<string, number>>>;
}

/**
 * Durable storage. SQLite (embedded default) and PostgreSQL (scale-out) implement the same
 * contract and pass the same contract tests.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly audit: AuditRepository;
  readonly objects: EncryptedObjectRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly records: ControlRecordRepository;
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
