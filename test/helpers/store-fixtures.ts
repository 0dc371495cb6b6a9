// How contract tests reach each Store implementation: a SQLite file, SQLite :memory:, and
// PostgreSQL at 127.0.0.1:5432 (required: when it is down these tests fail, they never skip).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Store } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { pgSpaces } from './pg-spaces.js';

/** What an implementation can do, which decides the cases that apply to it. */
export interface StoreTraits {
  /** Several stores can open one space at once and share its data (one database, many connections). */
  readonly shared: boolean;
  /** Data survives close() and is found by the next open() of the same space. */
  readonly durable: boolean;
}

/** How a contract run reaches one implementation. */
export interface StoreFixture {
  /** Opens a new, not yet migrated store on `space` (a database file, a PostgreSQL schema). */
  open(space: string): Promise<Store>;
  /** Runs raw SQL on a space, for checks the Store interface cannot express (shared stores only). */
  readonly sql?: (space: string, text: string) => Promise<unknown[]>;
  cleanup(): Promise<void>;
}

export async function sqliteFileFixture(): Promise<StoreFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'ztgate-store-'));
  const path = (space: string): string => join(dir, `${space}.db`);
  return {
    open: async (space) => new SqliteStore({ path: path(space) }),
    sql: async (space, text) => {
      const db = new Database(path(space));
      try {
        const statement = db.prepare(text);
        return statement.reader ? statement.all() : (statement.run(), []);
      } finally {
        db.close();
      }
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function sqliteMemoryFixture(): Promise<StoreFixture> {
  return { open: async () => new SqliteStore({ path: ':memory:' }), cleanup: async () => undefined };
}

export async function postgresFixture(): Promise<StoreFixture> {
  const spaces = await pgSpaces();
  return { open: spaces.open, sql: spaces.sql, cleanup: spaces.cleanup };
}

/** Every implementation, with its traits, for `describe` loops. */
export const STORE_FIXTURES: readonly [string, StoreTraits, () => Promise<StoreFixture>][] = [
  ['sqlite file', { shared: true, durable: true }, sqliteFileFixture],
  ['sqlite :memory:', { shared: false, durable: false }, sqliteMemoryFixture],
  ['postgres', { shared: true, durable: true }, postgresFixture],
];
