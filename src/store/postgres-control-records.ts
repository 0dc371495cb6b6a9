import type pg from 'pg';
import {
  checkControlRecordQuery,
  checkControlRecordUpdate,
  checkNewControlRecord,
  checkRecordId,
  checkRecordName,
  CONTROL_RECORD_COLUMNS,
  controlRecordOf,
  listParams,
  listSql,
  type ControlRecordRow,
} from './control-records-checks.js';
import type { ControlRecord, ControlRecordQuery, ControlRecordRepository } from './types.js';

/**
 * Migration 5 for PostgreSQL: control-plane records (incidents, approvals). Names, statuses,
 * subjects and times use the "C" collation so that they order as in SQLite (times are ISO-8601
 * text, ordered as text). `body` is TEXT, not JSONB, so that it reads back exactly as written
 * (JSONB reorders keys and refuses \u0000), as in SQLite.
 */
export const POSTGRES_CONTROL_RECORDS_MIGRATION = `
  create table control_records (
    namespace text collate "C" not null,
    id text collate "C" not null,
    status text collate "C" not null,
    subject text collate "C",
    created_at text collate "C" not null,
    updated_at text collate "C" not null,
    version bigint not null check (version > 0),
    body text not null,
    primary key (namespace, id)
  );
  create index control_records_status on control_records (namespace, status, created_at desc, id desc);
  create index control_records_subject on control_records (namespace, subject, created_at desc);
`;

export class PostgresControlRecords implements ControlRecordRepository {
  constructor(private readonly pool: pg.Pool) {}

  async create(record: Omit<ControlRecord, 'version' | 'updatedAt'>): Promise<boolean> {
    const r = checkNewControlRecord(record);
    const result = await this.pool.query({
      name: 'ztgate_control_records_create',
      text: `insert into control_records (${CONTROL_RECORD_COLUMNS}) values ($1, $2, $3, $4, $5, $5, 1, $6)
             on conflict (namespace, id) do nothing`,
      values: [r.namespace, r.id, r.status, r.subject, r.createdAt, r.body],
    });
    return (result.rowCount ?? 0) > 0;
  }

  async get(namespace: string, id: string): Promise<ControlRecord | undefined> {
    const ns = checkRecordName('namespace', namespace);
    const result = await this.pool.query<ControlRecordRow>({
      name: 'ztgate_control_records_get',
      text: `select ${CONTROL_RECORD_COLUMNS} from control_records where namespace = $1 and id = $2`,
      values: [ns, checkRecordId('id', id)],
    });
    const row = result.rows[0];
    return row && controlRecordOf(row);
  }

  async list(query: ControlRecordQuery): Promise<readonly ControlRecord[]> {
    const q = checkControlRecordQuery(query);
    if (q.limit === 0) return [];
    const { filter, params } = listParams(q);
    const result = await this.pool.query<ControlRecordRow>({
      name: `ztgate_control_records_list_${filter}`,
      text: listSql(filter, true),
      values: params,
    });
    return result.rows.map(controlRecordOf);
  }

  async update(
    namespace: string,
    id: string,
    expectedVersion: number,
    next: { status: string; body: Readonly<Record<string, unknown>>; updatedAt: string },
  ): Promise<ControlRecord | undefined> {
    const u = checkControlRecordUpdate(namespace, id, expectedVersion, next);
    // Under READ COMMITTED a concurrent update makes this one wait, then re-check the version
    // against the committed row: of two updates from the same version exactly one wins.
    const result = await this.pool.query<ControlRecordRow>({
      name: 'ztgate_control_records_update',
      text: `update control_records set status = $1, body = $2, updated_at = $3, version = version + 1
             where namespace = $4 and id = $5 and version = $6 returning ${CONTROL_RECORD_COLUMNS}`,
      values: [u.status, u.body, u.updatedAt, u.namespace, u.id, u.expectedVersion],
    });
    const row = result.rows[0];
    return row && controlRecordOf(row);
  }

  async countByStatus(namespace: string): Promise<Readonly<Record<string, number>>> {
    const result = await this.pool.query<{ status: string; n: string }>({
      name: 'ztgate_control_records_count_by_status',
      text: `select status, count(*) as n from control_records where namespace = $1
             group by status order by status`,
      values: [checkRecordName('namespace', namespace)],
    });
    const counts: Record<string, number> = {};
    for (const row of result.rows) counts[row.status] = Number(row.n);
    return counts;
  }
}
