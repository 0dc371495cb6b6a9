import type Database from 'better-sqlite3';
import {
  checkControlRecordQuery,
  checkControlRecordUpdate,
  checkNewControlRecord,
  checkRecordId,
  checkRecordName,
  CONTROL_RECORD_COLUMNS,
  controlRecordOf,
  LIST_FILTERS,
  listParams,
  listSql,
  type ControlRecordRow,
  type ListFilter,
} from './control-records-checks.js';
import type { ControlRecord, ControlRecordQuery, ControlRecordRepository } from './types.js';

/**
 * Migration 5 for SQLite: control-plane records (incidents, approvals). The status index serves
 * listing by status and counting; the subject index listing by subject. BINARY collation (the
 * default) orders as PostgreSQL's "C".
 */
export const SQLITE_CONTROL_RECORDS_MIGRATION = `
  create table control_records (
    namespace text not null,
    id text not null,
    status text not null,
    subject text,
    created_at text not null,
    updated_at text not null,
    version integer not null check (version > 0),
    body text not null,
    primary key (namespace, id)
  );
  create index control_records_status on control_records (namespace, status, created_at desc, id desc);
  create index control_records_subject on control_records (namespace, subject, created_at desc);
`;

type ListParams = [string, ...(string | number)[]];

interface ControlRecordStatements {
  readonly create: Database.Statement<[string, string, string, string | null, string, string, string]>;
  readonly get: Database.Statement<[string, string], ControlRecordRow>;
  readonly list: Readonly<Record<ListFilter, Database.Statement<ListParams, ControlRecordRow>>>;
  readonly update: Database.Statement<[string, string, string, string, string, number], ControlRecordRow>;
  readonly countByStatus: Database.Statement<[string], { status: string; n: number }>;
}

export function prepareControlRecords(db: Database.Database): ControlRecordStatements {
  const list = Object.fromEntries(
    LIST_FILTERS.map((filter) => [filter, db.prepare<ListParams, ControlRecordRow>(listSql(filter, false))]),
  ) as Record<ListFilter, Database.Statement<ListParams, ControlRecordRow>>;
  return {
    create: db.prepare(
      `insert into control_records (${CONTROL_RECORD_COLUMNS}) values (?, ?, ?, ?, ?, ?, 1, ?)
       on conflict (namespace, id) do nothing`,
    ),
    get: db.prepare(`select ${CONTROL_RECORD_COLUMNS} from control_records where namespace = ? and id = ?`),
    list,
    update: db.prepare(
      `update control_records set status = ?, body = ?, updated_at = ?, version = version + 1
       where namespace = ? and id = ? and version = ? returning ${CONTROL_RECORD_COLUMNS}`,
    ),
    countByStatus: db.prepare(
      `select status, count(*) as n from control_records where namespace = ? group by status order by status`,
    ),
  };
}

/**
 * Control records on the main connection: incidents and approvals are written rarely and off the
 * request path, so plain synchronous statements suffice (as for API keys). A compare-and-set
 * update is one statement, so two with the same expected version cannot both match.
 */
export class SqliteControlRecords implements ControlRecordRepository {
  constructor(private readonly statements: () => ControlRecordStatements) {}

  async create(record: Omit<ControlRecord, 'version' | 'updatedAt'>): Promise<boolean> {
    const r = checkNewControlRecord(record);
    const result = this.statements().create.run(
      r.namespace,
      r.id,
      r.status,
      r.subject,
      r.createdAt,
      r.createdAt,
      r.body,
    );
    return result.changes > 0;
  }

  async get(namespace: string, id: string): Promise<ControlRecord | undefined> {
    const ns = checkRecordName('namespace', namespace);
    const row = this.statements().get.get(ns, checkRecordId('id', id));
    return row && controlRecordOf(row);
  }

  async list(query: ControlRecordQuery): Promise<readonly ControlRecord[]> {
    const q = checkControlRecordQuery(query);
    if (q.limit === 0) return [];
    const { filter, params } = listParams(q);
    return this.statements()
      .list[filter].all(...params)
      .map(controlRecordOf);
  }

  async update(
    namespace: string,
    id: string,
    expectedVersion: number,
    next: { status: string; body: Readonly<Record<string, unknown>>; updatedAt: string },
  ): Promise<ControlRecord | undefined> {
    const u = checkControlRecordUpdate(namespace, id, expectedVersion, next);
    const row = this.statements().update.get(
      u.status,
      u.body,
      u.updatedAt,
      u.namespace,
      u.id,
      u.expectedVersion,
    );
    return row && controlRecordOf(row);
  }

  async countByStatus(namespace: string): Promise<Readonly<Record<string, number>>> {
    const rows = this.statements().countByStatus.all(checkRecordName('namespace', namespace));
    const counts: Record<string, number> = {};
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }
}
