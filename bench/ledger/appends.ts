// Durable appends per second through store.audit.append: closed-loop appenders (each awaits its
// append, then sends the next), so the figure is what group commit sustains at that concurrency.
// SQLite: a fresh file database (WAL, synchronous=FULL, the writer thread). PostgreSQL: a fresh
// schema in the local server (its own group commit; each commit is a durable transaction).
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Store } from '../../src/store/index.js';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { benchEntry, memory, summarize, type Summary } from './common.js';

export interface AppendRow {
  readonly store: string;
  readonly concurrency: number;
  readonly appends: number;
  readonly perSecond: number;
  readonly latency: Summary;
  readonly memory: string;
}

/** Runs `concurrency` appenders for `ms` (after a short warm-up) and returns the rate. */
async function measure(store: Store, label: string, concurrency: number, ms: number): Promise<AppendRow> {
  let next = 0;
  const warmUntil = performance.now() + Math.min(500, ms / 4);
  const warm = async (): Promise<void> => {
    while (performance.now() < warmUntil) await store.audit.append(benchEntry(next++));
  };
  await Promise.all(Array.from({ length: concurrency }, warm));
  const latencies: number[] = [];
  const start = performance.now();
  const stopAt = start + ms;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const t0 = performance.now();
      await store.audit.append(benchEntry(next++));
      latencies.push(performance.now() - t0);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - start;
  return {
    store: label,
    concurrency,
    appends: done,
    perSecond: (done / elapsed) * 1000,
    latency: summarize(latencies),
    memory: memory(),
  };
}

export async function benchSqliteAppends(
  dir: string,
  levels: readonly number[],
  ms: number,
): Promise<AppendRow[]> {
  const path = join(dir, `appends-${process.pid}-${randomBytes(3).toString('hex')}.db`);
  const store = new SqliteStore({ path });
  const rows: AppendRow[] = [];
  try {
    await store.migrate();
    for (const c of levels) rows.push(await measure(store, 'SQLite (file, WAL, fsync)', c, ms));
  } finally {
    await store.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  }
  return rows;
}

export const PG_URL = process.env.ZTGATE_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function benchPostgresAppends(levels: readonly number[], ms: number): Promise<AppendRow[]> {
  const schema = `ztgate_bench_${randomBytes(4).toString('hex')}`;
  const store = new PostgresStore({ url: PG_URL, schema, poolSize: 10 });
  const rows: AppendRow[] = [];
  try {
    await store.migrate();
    for (const c of levels) rows.push(await measure(store, 'PostgreSQL (local, 10 connections)', c, ms));
  } finally {
    await store.close();
    const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
    await admin.connect();
    await admin.query(`drop schema if exists ${schema} cascade`).finally(() => admin.end());
  }
  return rows;
}
