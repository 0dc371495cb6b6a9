import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres-store.js';

export const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Throw-away PostgreSQL schemas ("spaces") for store tests, all under one random prefix. It
 * connects at once, so that an unreachable server fails the suite instead of skipping it.
 */
export async function pgSpaces(): Promise<{
  readonly admin: pg.Client;
  schemaOf(space: string): string;
  open(space: string): Promise<PostgresStore>;
  sql(space: string, text: string): Promise<unknown[]>;
  cleanup(): Promise<void>;
}> {
  const base = `ztgate_test_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  await admin.connect();
  const schemaOf = (space: string): string => `${base}_${space}`;
  return {
    admin,
    schemaOf,
    open: async (space) => new PostgresStore({ url: PG_URL, schema: schemaOf(space), poolSize: 5 }),
    sql: async (space, text) => {
      await admin.query(`set search_path = ${schemaOf(space)}`);
      return (await admin.query(text)).rows;
    },
    cleanup: async () => {
      try {
        const { rows } = await admin.query<{ name: string }>(
          'select nspname as name from pg_namespace where starts_with(nspname, $1)',
          [base],
        );
        for (const { name } of rows) await admin.query(`drop schema ${name} cascade`);
      } finally {
        await admin.end();
      }
    },
  };
}
