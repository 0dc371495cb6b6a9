import type Database from 'better-sqlite3';
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

/** Migration 3 for SQLite: service-account API keys (hashes only). */
export const SQLITE_API_KEYS_MIGRATION = `
  create table api_keys (
    id text primary key,
    service text not null,
    scopes text not null,
    hash text not null,
    created_at text not null,
    expires_at text,
    revoked_at text,
    last_used_at text
  );
  create index api_keys_service on api_keys (service, id);
`;

interface ApiKeyStatements {
  readonly create: Database.Statement<[string, string, string, string, string, string | null]>;
  readonly get: Database.Statement<[string], ApiKeyRow>;
  readonly list: Database.Statement<[string, number], ApiKeyRow>;
  readonly listByService: Database.Statement<[string, string, number], ApiKeyRow>;
  readonly revoke: Database.Statement<[string, string], ApiKeyRow>;
  readonly expire: Database.Statement<[string, string, string], ApiKeyRow>;
  readonly markUsed: Database.Statement<[string, string, string]>;
}

export function prepareApiKeys(db: Database.Database): ApiKeyStatements {
  return {
    create: db.prepare(
      `insert into api_keys (id, service, scopes, hash, created_at, expires_at) values (?, ?, ?, ?, ?, ?)`,
    ),
    get: db.prepare(`select ${API_KEY_COLUMNS} from api_keys where id = ?`),
    list: db.prepare(`select ${API_KEY_COLUMNS} from api_keys where id > ? order by id limit ?`),
    listByService: db.prepare(
      `select ${API_KEY_COLUMNS} from api_keys where service = ? and id > ? order by id limit ?`,
    ),
    revoke: db.prepare(
      `update api_keys set revoked_at = coalesce(revoked_at, ?) where id = ? returning ${API_KEY_COLUMNS}`,
    ),
    expire: db.prepare(
      `update api_keys set expires_at = case when expires_at is null or expires_at > ? then ? else expires_at end
       where id = ? returning ${API_KEY_COLUMNS}`,
    ),
    markUsed: db.prepare(
      `update api_keys set last_used_at = ? where id = ? and (last_used_at is null or last_used_at < ?)`,
    ),
  };
}

/**
 * API keys on the main connection: creations and revocations are rare, and `markUsed` is
 * throttled by the verifier, so plain synchronous statements suffice (as for encrypted objects).
 */
export class SqliteApiKeys implements ApiKeyRepository {
  constructor(private readonly statements: () => ApiKeyStatements) {}

  async create(key: NewApiKey): Promise<void> {
    const k = checkNewApiKey(key);
    this.statements().create.run(k.id, k.service, JSON.stringify(k.scopes), k.hash, k.createdAt, k.expiresAt);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = this.statements().get.get(checkApiKeyId('id', id));
    return row && apiKeyOf(row);
  }

  async list(query?: ApiKeyQuery): Promise<readonly ApiKeyRecord[]> {
    const q = checkApiKeyQuery(query);
    if (q.limit === 0) return [];
    const s = this.statements();
    const rows =
      q.service === undefined
        ? s.list.all(q.after, q.limit)
        : s.listByService.all(q.service, q.after, q.limit);
    return rows.map(apiKeyOf);
  }

  async revoke(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    const key = checkApiKeyId('id', id);
    const row = this.statements().revoke.get(checkTime('at', at), key);
    return row && apiKeyOf(row);
  }

  async expire(id: string, at: string): Promise<ApiKeyRecord | undefined> {
    const key = checkApiKeyId('id', id);
    const time = checkTime('at', at);
    const row = this.statements().expire.get(time, time, key);
    return row && apiKeyOf(row);
  }

  async markUsed(id: string, at: string): Promise<void> {
    const key = checkApiKeyId('id', id);
    const time = checkTime('at', at);
    this.statements().markUsed.run(time, key, time);
  }
}
