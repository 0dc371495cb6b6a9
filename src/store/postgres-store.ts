import pg from 'pg';
import { POSTGRES_API_KEYS_MIGRATION, PostgresApiKeys } from './postgres-api-keys.js';
import { POSTGRES_CONTROL_RECORDS_MIGRATION, PostgresControlRecords } from './postgres-control-records.js';
import { importLegacyAudit, POSTGRES_LEDGER_MIGRATION, PostgresAudit } from './postgres-ledger.js';
import { inTransaction } from './postgres-tx.js';
import {
  checkEnvelope,
  checkKey,
  checkListWrappedBelow,
  checkName,
  checkPut,
  checkVersion,
  type Migration,
} from './shared.js';
import type {
  ApiKeyRepository,
  AuditRepository,
  ControlRecordRepository,
  EncryptedObject,
  EncryptedObjectRepository,
  Store,
} from './types.js';

/** Options for {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /** `postgres://…` connection url. */
  readonly url: string;
  /** PostgreSQL schema holding the tables; created if absent. Default `public`. */
  readonly schema?: string;
  /** Maximum pooled connections. Default 10. */
  readonly poolSize?: number;
  /** ping() rejects when the database does not answer within this time. Default 2000 ms. */
  readonly pingTimeoutMs?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Numbered, append-only: never edit a shipped migration, add a new one. */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    // `entry` is TEXT, not JSONB: JSONB rewrites the document (key order, \u0000 is rejected),
    // and the ledger must read back exactly what was written.
    sql: `
      create table audit_log (
        seq bigint generated always as identity primary key,
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
    // Envelope-encrypted objects. Names use the "C" collation so that they order by their UTF-8
    // bytes, as in SQLite, whatever the database's locale (and a locale update cannot reorder
    // the index under a re-wrap job's cursor). Envelopes are ciphertext: STORAGE EXTERNAL skips
    // the compression attempt that could never pay off. The (key_name, key_version, namespace, id)
    // index serves the re-wrap job (one ordered range per version), counting, and version probes.
    sql: `
      create table encrypted_objects (
        namespace text collate "C" not null,
        id text collate "C" not null,
        key_name text collate "C" not null,
        key_version bigint not null check (key_version > 0),
        envelope bytea not null,
        created_at text not null,
        updated_at text not null,
        primary key (namespace, id)
      );
      alter table encrypted_objects alter column envelope set storage external;
      create index encrypted_objects_key on encrypted_objects (key_name, key_version, namespace, id);
    `,
  },
  // Service-account API keys: hashes only, never secrets.
  { version: 3, sql: POSTGRES_API_KEYS_MIGRATION },
  // The tamper-evident ledger (the audit log from now on).
  { version: 4, sql: POSTGRES_LEDGER_MIGRATION },
  // Control-plane records: incidents, approvals.
  { version: 5, sql: POSTGRES_CONTROL_RECORDS_MIGRATION },
];

type ObjectRow = {
  namespace: string;
  id: string;
  key_name: string;
  key_version: string;
  envelope: Buffer;
  created_at: string;
  updated_at: string;
};

const OBJECT_COLUMNS = 'namespace, id, key_name, key_version, envelope, created_at, updated_at';

/**
 * One page of listWrappedBelow: $1 key name, $2 version bound, $3/$4 the cursor, $5 the limit.
 * The recursive part walks the distinct versions below $2 through the index (a loose index scan,
 * one probe per version); for each, the lateral part reads one ordered index range of keys after
 * the cursor; the merged keys are cut to the limit before any envelope is read. So a page costs
 * O(versions × limit) however many objects still wait, where one range over all versions would
 * have to sort every waiting object on every page of a re-wrap job.
 */
const LIST_WRAPPED_BELOW = `
  with recursive versions (v) as (
    (select key_version from encrypted_objects
      where key_name = $1 and key_version < $2 order by key_version limit 1)
    union all
    select (select key_version from encrypted_objects
             where key_name = $1 and key_version > versions.v and key_version < $2
             order by key_version limit 1)
    from versions where versions.v is not null
  ),
  page as (
    select k.namespace, k.id from versions cross join lateral (
      select namespace, id from encrypted_objects
      where key_name = $1 and key_version = versions.v and (namespace, id) > ($3, $4)
      order by namespace, id limit $5
    ) k
    order by k.namespace, k.id limit $5
  )
  select ${OBJECT_COLUMNS.split(', ')
    .map((column) => `o.${column}`)
    .join(', ')}
  from page join encrypted_objects o using (namespace, id)
  order by o.namespace, o.id
`;

function objectOf(row: ObjectRow): EncryptedObject {
  return {
    namespace: row.namespace,
    id: row.id,
    keyName: row.key_name,
    keyVersion: Number(row.key_version),
    envelope: row.envelope,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

class PostgresObjects implements EncryptedObjectRepository {
  constructor(private readonly pool: pg.Pool) {}

  async put(object: Parameters<EncryptedObjectRepository['put']>[0]): Promise<void> {
    const { namespace, id, keyName, keyVersion, envelope } = checkPut(object);
    const now = new Date().toISOString();
    await this.pool.query({
      name: 'ztgate_objects_put',
      text: `insert into encrypted_objects (${OBJECT_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $6)
             on conflict (namespace, id) do update set key_name = excluded.key_name,
               key_version = excluded.key_version, envelope = excluded.envelope, updated_at = excluded.updated_at`,
      values: [namespace, id, keyName, keyVersion, envelope, now],
    });
  }

  async get(namespace: string, id: string): Promise<EncryptedObject | undefined> {
    const key = checkKey(namespace, id);
    const result = await this.pool.query<ObjectRow>({
      name: 'ztgate_objects_get',
      text: `select ${OBJECT_COLUMNS} from encrypted_objects where namespace = $1 and id = $2`,
      values: [key.namespace, key.id],
    });
    const row = result.rows[0];
    return row && objectOf(row);
  }

  async delete(namespace: string, id: string): Promise<boolean> {
    const key = checkKey(namespace, id);
    const result = await this.pool.query({
      name: 'ztgate_objects_delete',
      text: 'delete from encrypted_objects where namespace = $1 and id = $2',
      values: [key.namespace, key.id],
    });
    return (result.rowCount ?? 0) > 0;
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
    const result = await this.pool.query<ObjectRow>({
      name: 'ztgate_objects_list_wrapped_below',
      text: LIST_WRAPPED_BELOW,
      values: [query.keyName, query.belowVersion, after.namespace, after.id, query.limit],
    });
    return result.rows.map(objectOf);
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
    // Under READ COMMITTED a concurrent update makes this one wait, then re-check the condition
    // against the committed row: of two swaps from the same envelope exactly one wins.
    const result = await this.pool.query({
      name: 'ztgate_objects_replace',
      text: `update encrypted_objects set key_version = $1, envelope = $2, updated_at = $3
             where namespace = $4 and id = $5 and envelope = $6`,
      values: [keyVersion, envelope, new Date().toISOString(), key.namespace, key.id, old],
    });
    return (result.rowCount ?? 0) > 0;
  }

  async countByVersion(keyName: string): Promise<Readonly<Record<number, number>>> {
    const result = await this.pool.query<{ version: string; n: string }>({
      name: 'ztgate_objects_count_by_version',
      text: `select key_version as version, count(*) as n from encrypted_objects where key_name = $1
             group by key_version order by key_version`,
      values: [checkName('keyName', keyName)],
    });
    const counts: Record<number, number> = {};
    for (const row of result.rows) counts[Number(row.version)] = Number(row.n);
    return counts;
  }
}

/** True when the url sets libpq `options`, which would silently replace our search_path. */
function urlSetsOptions(url: string): boolean {
  try {
    return new URL(url).searchParams.has('options');
  } catch {
    return false;
  }
}

/** Scale-out store on PostgreSQL; all replicas share one schema. */
export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly audit: AuditRepository;
  readonly objects: EncryptedObjectRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly records: ControlRecordRepository;
  private readonly pool: pg.Pool;
  private readonly schema: string;
  private readonly pingTimeoutMs: number;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    const schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) {
      throw new Error(`invalid PostgreSQL schema name "${schema}": use lower-case letters, digits and _`);
    }
    if (urlSetsOptions(options.url)) {
      throw new Error('the PostgreSQL url must not set "options"; use the schema setting instead');
    }
    this.schema = schema;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 2000;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      // The schema name is validated above, so it is safe to splice into the startup options.
      options: `-c search_path=${schema}`,
      connectionTimeoutMillis: 5000,
      application_name: 'ztgate',
    });
    // Idle connections that die (server restart) emit here; without a listener the process
    // would crash. The next query fails instead and /readyz reports it.
    this.pool.on('error', () => undefined);
    this.audit = new PostgresAudit(this.pool);
    this.objects = new PostgresObjects(this.pool);
    this.apiKeys = new PostgresApiKeys(this.pool);
    this.records = new PostgresControlRecords(this.pool);
  }

  async migrate(): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      // Replicas starting together queue here; the lock is released at commit.
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [`ztgate.migrate.${this.schema}`]);
      // Checked first because CREATE SCHEMA IF NOT EXISTS still demands CREATE on the database.
      const exists = await client.query('select 1 from pg_namespace where nspname = $1', [this.schema]);
      if (exists.rowCount === 0) await client.query(`create schema ${this.schema}`);
      await client.query(
        'create table if not exists schema_migrations (version integer primary key, applied_at text not null)',
      );
      const rows = await client.query<{ version: number }>('select version from schema_migrations');
      const applied = new Set(rows.rows.map((row) => row.version));
      const known = Math.max(...MIGRATIONS.map((m) => m.version));
      const newest = Math.max(0, ...applied);
      if (newest > known) {
        throw new Error(`database schema version ${newest} is newer than this build supports (${known})`);
      }
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await client.query(migration.sql);
        await client.query('insert into schema_migrations (version, applied_at) values ($1, $2)', [
          migration.version,
          new Date().toISOString(),
        ]);
      }
      await importLegacyAudit(client);
    });
  }

  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('PostgreSQL did not answer in time')), this.pingTimeoutMs);
    });
    try {
      await Promise.race([this.pool.query('select 1'), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
