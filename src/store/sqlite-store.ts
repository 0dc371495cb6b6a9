import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { prepareApiKeys, SQLITE_API_KEYS_MIGRATION, SqliteApiKeys } from './sqlite-api-keys.js';
import {
  prepareControlRecords,
  SQLITE_CONTROL_RECORDS_MIGRATION,
  SqliteControlRecords,
} from './sqlite-control-records.js';
import { importLegacyAudit, prepareLedger, SQLITE_LEDGER_MIGRATION, SqliteAudit } from './sqlite-ledger.js';
import { SqliteWriter } from './sqlite-writer.js';
import {
  checkEnvelope,
  checkKey,
  checkListWrappedBelow,
  checkName,
  checkPut,
  checkVersion,
  compareKeys,
  type Migration,
  type ObjectKey,
} from './shared.js';
import type {
  ApiKeyRepository,
  AuditRepository,
  ControlRecordRepository,
  EncryptedObject,
  EncryptedObjectRepository,
  Store,
} from './types.js';

/** Options for {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** Absolute (or process-relative) file path, or `:memory:`. */
  readonly path: string;
  /** How long a writer waits for another connection's lock before failing. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
}

/** Numbered, append-only: never edit a shipped migration, add a new one. */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      create table audit_log (
        seq integer primary key autoincrement,
        request_id text not null,
        principal_id text,
        phase text not null,
        stored_at text not null,
        entry text not null
      );
      create index audit_log_request_id on audit_log (request_id);
      create index audit_log_principal_id on audit_log (principal_id);
    `,
  },
  {
    version: 2,
    // Envelope-encrypted objects. The (key_name, key_version, namespace, id) index serves the
    // re-wrap job (one ordered range per version), counting per version, and the next-version
    // probe. BINARY collation (the default) orders names by their UTF-8 bytes, as PostgreSQL's "C".
    sql: `
      create table encrypted_objects (
        namespace text not null,
        id text not null,
        key_name text not null,
        key_version integer not null check (key_version > 0),
        envelope blob not null,
        created_at text not null,
        updated_at text not null,
        primary key (namespace, id)
      );
      create index encrypted_objects_key on encrypted_objects (key_name, key_version, namespace, id);
    `,
  },
  // Service-account API keys: hashes only, never secrets.
  { version: 3, sql: SQLITE_API_KEYS_MIGRATION },
  // The tamper-evident ledger (the audit log from now on).
  { version: 4, sql: SQLITE_LEDGER_MIGRATION },
  // Control-plane records: incidents, approvals.
  { version: 5, sql: SQLITE_CONTROL_RECORDS_MIGRATION },
];

type ObjectRow = {
  namespace: string;
  id: string;
  key_name: string;
  key_version: number;
  envelope: Buffer;
  created_at: string;
  updated_at: string;
};

const OBJECT_COLUMNS = 'namespace, id, key_name, key_version, envelope, created_at, updated_at';

interface ObjectStatements {
  readonly put: Database.Statement<[string, string, string, number, Buffer, string, string]>;
  readonly get: Database.Statement<[string, string], ObjectRow>;
  readonly delete: Database.Statement<[string, string]>;
  readonly nextVersion: Database.Statement<[string, number, number], number>;
  readonly pageOfVersion: Database.Statement<[string, number, string, string, number], ObjectKey>;
  readonly replace: Database.Statement<[number, Buffer, string, string, string, Buffer]>;
  readonly countByVersion: Database.Statement<[string], { version: number; n: number }>;
  /** Runs `read` in one read transaction, so that its statements see one snapshot. */
  readonly snapshot: <T>(read: () => T) => T;
}

function prepareObjects(db: Database.Database): ObjectStatements {
  const snapshot = db.transaction((read: () => unknown) => read());
  return {
    put: db.prepare(
      `insert into encrypted_objects (${OBJECT_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?)
       on conflict (namespace, id) do update set key_name = excluded.key_name,
         key_version = excluded.key_version, envelope = excluded.envelope, updated_at = excluded.updated_at`,
    ),
    get: db.prepare(`select ${OBJECT_COLUMNS} from encrypted_objects where namespace = ? and id = ?`),
    delete: db.prepare('delete from encrypted_objects where namespace = ? and id = ?'),
    nextVersion: db
      .prepare<[string, number, number], number>(
        `select key_version from encrypted_objects where key_name = ? and key_version > ? and key_version < ?
         order by key_version limit 1`,
      )
      .pluck(),
    pageOfVersion: db.prepare(
      `select namespace, id from encrypted_objects where key_name = ? and key_version = ?
       and (namespace, id) > (?, ?) order by namespace, id limit ?`,
    ),
    // BLOB = BLOB compares length and bytes: byte for byte, as the contract asks.
    replace: db.prepare(
      `update encrypted_objects set key_version = ?, envelope = ?, updated_at = ?
       where namespace = ? and id = ? and envelope = ?`,
    ),
    countByVersion: db.prepare(
      `select key_version as version, count(*) as n from encrypted_objects where key_name = ?
       group by key_version order by key_version`,
    ),
    snapshot: <T>(read: () => T) => snapshot(read) as T,
  };
}

function objectOf(row: ObjectRow): EncryptedObject {
  return {
    namespace: row.namespace,
    id: row.id,
    keyName: row.key_name,
    keyVersion: row.key_version,
    envelope: row.envelope,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * Encrypted objects on the main connection. These writes are rare (re-wrap jobs, vault entries)
 * and not on the audit hot path, so plain synchronous statements suffice; they share the file
 * with the writer thread through WAL and busy_timeout.
 */
class SqliteObjects implements EncryptedObjectRepository {
  constructor(private readonly statements: () => ObjectStatements) {}

  async put(object: Parameters<EncryptedObjectRepository['put']>[0]): Promise<void> {
    const { namespace, id, keyName, keyVersion, envelope } = checkPut(object);
    const now = new Date().toISOString();
    this.statements().put.run(namespace, id, keyName, keyVersion, envelope, now, now);
  }

  async get(namespace: string, id: string): Promise<EncryptedObject | undefined> {
    const key = checkKey(namespace, id);
    const row = this.statements().get.get(key.namespace, key.id);
    return row && objectOf(row);
  }

  async delete(namespace: string, id: string): Promise<boolean> {
    const key = checkKey(namespace, id);
    return this.statements().delete.run(key.namespace, key.id).changes > 0;
  }

  async listWrappedBelow(
    keyName: string,
    belowVersion: number,
    options?: { after?: { namespace: string; id: string }; limit?: number },
  ): Promise<readonly EncryptedObject[]> {
    const query = checkListWrappedBelow(keyName, belowVersion, options);
    if (query.limit === 0) return [];
    // Valid namespaces are non-empty, so every stored key sorts after ('', '').
    const after = query.after ?? { namespace: '', id: '' };
    const s = this.statements();
    // One ordered index range per version below, merged: each page costs O(versions × limit)
    // however many objects still wait, where one range over all versions would sort them all.
    return s.snapshot(() => {
      const keys: ObjectKey[] = [];
      for (
        let version = s.nextVersion.get(query.keyName, 0, query.belowVersion);
        version !== undefined;
        version = s.nextVersion.get(query.keyName, version, query.belowVersion)
      ) {
        keys.push(...s.pageOfVersion.all(query.keyName, version, after.namespace, after.id, query.limit));
      }
      return keys
        .sort(compareKeys)
        .slice(0, query.limit)
        .map((key) => {
          const row = s.get.get(key.namespace, key.id);
          if (!row) throw new Error('encrypted object vanished inside a read transaction');
          return objectOf(row);
        });
    });
  }

  async replaceIfUnchanged(
    namespace: string,
    id: string,
    expected: Buffer,
    next: { keyVersion: number; envelope: Buffer },
  ): Promise<boolean> {
    const key = checkKey(namespace, id);
    const old = checkEnvelope('expected', expected);
    const keyVersion = checkVersion('next.keyVersion', next?.keyVersion);
    const envelope = checkEnvelope('next.envelope', next?.envelope);
    const now = new Date().toISOString();
    return this.statements().replace.run(keyVersion, envelope, now, key.namespace, key.id, old).changes > 0;
  }

  async countByVersion(keyName: string): Promise<Readonly<Record<number, number>>> {
    const rows = this.statements().countByVersion.all(checkName('keyName', keyName));
    const counts: Record<number, number> = {};
    for (const row of rows) counts[row.version] = row.n;
    return counts;
  }
}

/**
 * Embedded store on SQLite. Appends are fsync'd (WAL + synchronous=FULL), so a resolved `append`
 * is on disk: the pipeline releases an answer only after its audit entry is. For a file database
 * the appends go through a writer thread with group commit (sqlite-writer.ts), so the event loop
 * never blocks on a disk flush and concurrent requests share one fsync.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly audit: AuditRepository;
  readonly objects: EncryptedObjectRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly records: ControlRecordRepository;
  private readonly db: Database.Database;
  private readonly pingStatement: Database.Statement<[], number>;
  private statements: ReturnType<typeof prepareLedger> | undefined;
  private objectStatements: ObjectStatements | undefined;
  private apiKeyStatements: ReturnType<typeof prepareApiKeys> | undefined;
  private recordStatements: ReturnType<typeof prepareControlRecords> | undefined;
  private writer: SqliteWriter | undefined;
  private readonly path: string;
  private readonly busyTimeoutMs: number;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
    this.path = options.path;
    this.busyTimeoutMs = Math.floor(options.busyTimeoutMs ?? 5000);
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma(`busy_timeout = ${Math.floor(options.busyTimeoutMs ?? 5000)}`);
    this.db.pragma('foreign_keys = ON');
    this.pingStatement = this.db.prepare<[], number>('select 1').pluck();
    // Prepared on first use: the tables they name exist only once migrate() has run.
    this.audit = new SqliteAudit(
      () => (this.statements ??= prepareLedger(this.db)),
      () => this.db,
      () => this.#writer(),
    );
    this.objects = new SqliteObjects(() => (this.objectStatements ??= prepareObjects(this.db)));
    this.apiKeys = new SqliteApiKeys(() => (this.apiKeyStatements ??= prepareApiKeys(this.db)));
    this.records = new SqliteControlRecords(() => (this.recordStatements ??= prepareControlRecords(this.db)));
  }

  #writer(): SqliteWriter | undefined {
    if (this.path === ':memory:' || !this.db.open) return undefined;
    return (this.writer ??= new SqliteWriter(this.path, this.busyTimeoutMs));
  }

  async migrate(): Promise<void> {
    const db = this.db;
    // IMMEDIATE takes the write lock up front, so two processes migrating at once queue on
    // busy_timeout instead of both reading "version 0" and racing to create the same tables.
    db.transaction(() => {
      db.exec(
        'create table if not exists schema_migrations (version integer primary key, applied_at text not null)',
      );
      const applied = new Set(db.prepare<[], number>('select version from schema_migrations').pluck().all());
      const known = Math.max(...MIGRATIONS.map((m) => m.version));
      const newest = Math.max(0, ...applied);
      if (newest > known) {
        throw new Error(`database schema version ${newest} is newer than this build supports (${known})`);
      }
      const record = db.prepare<[number, string]>(
        'insert into schema_migrations (version, applied_at) values (?, ?)',
      );
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        db.exec(migration.sql);
        record.run(migration.version, new Date().toISOString());
      }
    }).immediate();
    importLegacyAudit(db);
    // Start the writer thread now, so that the first request does not wait for it and a thread
    // that cannot start stops the start instead of the first request.
    const writer = this.#writer();
    if (writer) await writer.ready;
  }

  async ping(): Promise<void> {
    this.pingStatement.get();
  }

  async close(): Promise<void> {
    await this.writer?.close();
    if (this.db.open) this.db.close();
  }
}
