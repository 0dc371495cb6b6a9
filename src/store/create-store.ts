import { isAbsolute, resolve } from 'node:path';
import type { Store } from './types.js';

/** How to reach durable storage. */
export interface StoreOptions {
  /** `sqlite:PATH` (relative to `home`), `sqlite::memory:`, or `postgres://…` / `postgresql://…`. */
  readonly url: string;
  /** Base folder for relative SQLite paths. */
  readonly home: string;
  /** PostgreSQL schema name (ignored by SQLite). */
  readonly schema?: string;
  /** PostgreSQL pool size (ignored by SQLite). */
  readonly poolSize?: number;
}

/**
 * Finds the factory for a url's scheme in `registry`. The error names only the scheme, never
 * the url, because urls carry passwords.
 */
export function factoryFor<T>(what: string, url: string, registry: Readonly<Record<string, T>>): T {
  const expected = Object.keys(registry)
    .map((scheme) => `${scheme}:`)
    .join(', ');
  const scheme = /^([a-z][a-z0-9+.-]{0,31}):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) throw new Error(`${what} url has no scheme (expected one of ${expected})`);
  // hasOwn, so that "constructor:" or "__proto__:" cannot reach Object.prototype.
  const factory = Object.hasOwn(registry, scheme) ? registry[scheme] : undefined;
  if (factory === undefined) {
    throw new Error(`unsupported ${what} url scheme "${scheme}:" (expected one of ${expected})`);
  }
  return factory;
}

type StoreFactory = (url: string, options: StoreOptions) => Promise<Store>;

// Drivers are imported on demand so a PostgreSQL deployment never loads the SQLite native addon.
async function openSqlite(url: string, options: StoreOptions): Promise<Store> {
  const path = url.slice('sqlite:'.length);
  if (path === '' || path.startsWith('//')) {
    // `sqlite://x.db` would silently mean the absolute path /x.db.
    throw new Error('sqlite url must be sqlite:PATH or sqlite::memory:, for example sqlite:data/ztgate.db');
  }
  const { SqliteStore } = await import('./sqlite-store.js');
  return new SqliteStore({
    path: path === ':memory:' || isAbsolute(path) ? path : resolve(options.home, path),
  });
}

async function openPostgres(url: string, options: StoreOptions): Promise<Store> {
  const { PostgresStore } = await import('./postgres-store.js');
  return new PostgresStore({ url, schema: options.schema, poolSize: options.poolSize });
}

const STORES: Readonly<Record<string, StoreFactory>> = {
  sqlite: openSqlite,
  postgres: openPostgres,
  postgresql: openPostgres,
};

/** Opens the store named by `options.url` and brings its schema up to date. */
export async function createStore(options: StoreOptions): Promise<Store> {
  const store = await factoryFor('store', options.url, STORES)(options.url, options);
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}
