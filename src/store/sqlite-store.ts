import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { AuditEntry, AuditReceipt } from '../core/index.js';
import { SqliteWriter } from './sqlite-writer.js';
import type { WriterRow } from './sqlite-writer-protocol.js';
import { pageOf, type Migration } from './shared.js';
import type { AuditQuery, AuditRecord, AuditRepository, Store } from './types.js';

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
];

type Row = { seq: number; stored_at: string; entry: string };
type AppendParams = WriterRow;

interface Statements {
  readonly append: Database.Statement<AppendParams>;
  readonly count: Database.Statement<[], number>;
  /** Keyed by which filters are present: `${byRequest}${byPrincipal}` as 0/1. */
  readonly list: ReadonlyMap<string, Database.Statement<unknown[], Row>>;
}

function prepare(db: Database.Database): Statements {
  const list = new Map<string, Database.Statement<unknown[], Row>>();
  for (const byRequest of [false, true]) {
    for (const byPrincipal of [false, true]) {
      const sql =
        'select seq, stored_at, entry from audit_log where seq > ?' +
        (byRequest ? ' and request_id = ?' : '') +
        (byPrincipal ? ' and principal_id = ?' : '') +
        ' order by seq limit ?';
      list.set(`${Number(byRequest)}${Number(byPrincipal)}`, db.prepare<unknown[], Row>(sql));
    }
  }
  return {
    append: db.prepare<AppendParams>(
      'insert into audit_log (request_id, principal_id, phase, stored_at, entry) values (?, ?, ?, ?, ?)',
    ),
    count: db.prepare<[], number>('select count(*) from audit_log').pluck(),
    list,
  };
}

class SqliteAudit implements AuditRepository {
  constructor(
    private readonly statements: () => Statements,
    /** The writer thread for a file database; absent for `:memory:` (one connection only). */
    private readonly writer: () => SqliteWriter | undefined,
  ) {}

  async append(entry: AuditEntry): Promise<AuditReceipt> {
    const row: WriterRow = [
      entry.requestId,
      entry.principalId,
      entry.phase,
      new Date().toISOString(),
      JSON.stringify(entry),
    ];
    const writer = this.writer();
    if (writer) {
      const [seq] = await writer.append([row]);
      if (seq === undefined) throw new Error('audit writer returned no sequence number');
      return { seq };
    }
    return { seq: Number(this.statements().append.run(...row).lastInsertRowid) };
  }

  async list(query: AuditQuery = {}): Promise<readonly AuditRecord[]> {
    const { afterSeq, limit } = pageOf(query);
    const byRequest = query.requestId !== undefined;
    const byPrincipal = query.principalId !== undefined;
    const params: unknown[] = [afterSeq];
    if (byRequest) params.push(query.requestId);
    if (byPrincipal) params.push(query.principalId);
    params.push(limit);
    const statement = this.statements().list.get(`${Number(byRequest)}${Number(byPrincipal)}`);
    if (!statement) throw new Error('audit list statement missing');
    return statement.all(...params).map((row) => ({
      seq: row.seq,
      storedAt: row.stored_at,
      entry: JSON.parse(row.entry) as AuditEntry,
    }));
  }

  async count(): Promise<number> {
    return this.statements().count.get() ?? 0;
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
  private readonly db: Database.Database;
  private readonly pingStatement: Database.Statement<[], number>;
  private statements: Statements | undefined;
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
      () => (this.statements ??= prepare(this.db)),
      () => this.#writer(),
    );
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
