import type pg from 'pg';
import {
  API_KEY_COLUMNS,
  apiKeyOf,
  checkApiKeyId,
  checkApiKeyQuery,
  checkNewApiKey,
  checkTime,
  type ApiKeyRow,
} from './api-key-checks.js';
import type { ApiKeyQuery, ApiKeyRecord, ApiKeyRepository, NewApiKey } from './types.js';

/**
 * Migration 3 for PostgreSQL: service-account API keys (hashes only). Ids, services and times use
 * the "C" collation so that they order as in SQLite (times are ISO-8601 text, ordered as text).
 */
export const POSTGRES_API_KEYS_MIGRATION = `
  create table api_keys (
    id text collate "C" primary key,
    service text collate "C" not null,
    scopes text not null,
    hash text not null,
    created_at text collate "C" not null,
    expires_at text collate "C",
    revoked_at text collate "C",
    last_used_at text collate "C"
  );
  create index api_keys_service on api_keys (service, id);
`;

export class PostgresApiKeys implements ApiKeyRepository {
  constructor(private readonly pool: pg.Pool) {}

  async create(key: NewApiKey): Promise<void> {
    const k = checkNewApiKey(key);
    await this.pool.query({
      name: 'ztgate_api_keys_create',
      text: 'insert into api_keys (id, service, scopes, hash, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)',
      values: [k.id, k.service, JSON.stringify(k.scopes), k.hash, k.createdAt, k.expiresAt],
    });
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const result = await this.pool.query<ApiKeyRow>({
      name: 'ztgate_api_keys_get',
      text: `select ${API_KEY_COLUMNS} from api_keys where id = $1`,
      values: [checkApiKeyId('id', id)],
    });
    const row = result.rows[0];
    return row && apiKeyOf(row);
  }

  async list(query?: ApiKeyQuery): Promise<readonly ApiKeyRecord[]> {
    const q = checkApiKeyQuery(query);
    if (q.limit === 0) return [];
    const result =
      q.service === undefined
        ? await this.pool.query<ApiKeyRow>({
            name: 'ztgate_api_keys_list',
            text: `select ${API_KEY_COLUMNS} from api_keys where id > $1 order by id limit $2`,
            values: [q.after, q.limit],
          })
        : await this.pool.query<ApiKeyRow>({
            name: 'ztgate_api_keys_list_service',
            text: `select ${API_KEY_COLUMNS} from api_keys where service = $1 and id > $2 order by id limit $3`,
            values: [q.service, q.after, q.limit],
          });
    return result.rows.map(apiKeyOf);
  }

  async revoke(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    const key = checkApiKeyId('id', id);
    const result = await this.pool.query<ApiKeyRow>({
      name: 'ztgate_api_keys_revoke',
      text: `update api_keys set revoked_at = coalesce(revoked_at, $1) where id = $2 returning ${API_KEY_COLUMNS}`,
      values: [checkTime('at', at), key],
    });
    const row = result.rows[0];
    return row && apiKeyOf(row);
  }

  async expire(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    const key = checkApiKeyId('id', id);
    const result = await this.pool.query<ApiKeyRow>({
      name: 'ztgate_api_keys_expire',
      text: `update api_keys set expires_at = case when expires_at is null or expires_at > $1 then $1 else expires_at end
             where id = $2 returning ${API_KEY_COLUMNS}`,
      values: [checkTime('at', at), key],
    });
    const row = result.rows[0];
    return row && apiKeyOf(row);
  }

  async markUsed(id: string, at: string): Promise<void> {
    const key = checkApiKeyId('id', id);
    await this.pool.query({
      name: 'ztgate_api_keys_mark_used',
      text: 'update api_keys set last_used_at = $1 where id = $2 and (last_used_at is null or last_used_at < $1)',
      values: [checkTime('at', at), key],
    });
  }
}
