// Large ledgers for the verification and proof benches, built once and cached by size. The schema
// is the real one (a SqliteStore migrates the file first); the leaves are sequenced by the same
// ledgerCommitter the SQLite writer thread runs (sequence(), leaf text, leaf hash, completed
// nodes, frontier), only in large transactions with fsync off, since building is not what is
// measured. Checkpoints are signed with a bench Ed25519 key kept next to the database.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { signCheckpoint } from '../../src/ledger/checkpoint.js';
import { signerFromPrivateKey } from '../../src/ledger/note.js';
import { stateRoot } from '../../src/ledger/sequencer.js';
import { ledgerRowOf, type LedgerRow } from '../../src/store/ledger-shared.js';
import { ledgerCommitter } from '../../src/store/sqlite-ledger.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { benchEntry, fmt, progress } from './common.js';

export const BENCH_ORIGIN = 'bench.ztgate.local/ledger';

export interface CachedLedger {
  readonly path: string;
  readonly size: number;
  /** The key that signed its checkpoints. */
  readonly publicKey: KeyObject;
  /** How long building took, when it was built now (undefined: reused from the cache). */
  readonly builtMs: number | undefined;
  /** The build time recorded when it was first built. */
  readonly recordedBuildMs: number;
  readonly bytes: number;
}

export interface BuildOptions {
  readonly cacheDir: string;
  readonly size: number;
  /** A signed checkpoint every this many leaves (and one at the end). */
  readonly checkpointEvery: number;
  /**
   * Keep the query indexes (principal, decision, model, …). Proofs never read them, so the
   * 10-million-leaf database goes without them, and reuses a pool of entries (see pooledRow).
   */
  readonly queryIndexes: boolean;
  readonly batch?: number;
}

interface Marker {
  readonly size: number;
  readonly buildMs: number;
  readonly privateKeyPem: string;
}

/** Returns the cached ledger of `size` leaves, building it first when it is not there. */
export async function cachedLedger(options: BuildOptions): Promise<CachedLedger> {
  const name = `ledger-${options.size}${options.queryIndexes ? '' : '-noquery'}.db`;
  const path = join(options.cacheDir, name);
  const markerPath = `${path}.done.json`;
  if (existsSync(markerPath) && existsSync(path)) {
    const marker = JSON.parse(readFileSync(markerPath, 'utf8')) as Marker;
    return ledgerOf(path, marker, undefined);
  }
  mkdirSync(options.cacheDir, { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  const started = performance.now();
  const { privateKey } = generateKeyPairSync('ed25519');
  await build(path, privateKey, options);
  const marker: Marker = {
    size: options.size,
    buildMs: performance.now() - started,
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
  writeFileSync(markerPath, JSON.stringify(marker));
  return ledgerOf(path, marker, marker.buildMs);
}

function ledgerOf(path: string, marker: Marker, builtMs: number | undefined): CachedLedger {
  return {
    path,
    size: marker.size,
    publicKey: createPublicKey(createPrivateKey(marker.privateKeyPem)),
    builtMs,
    recordedBuildMs: marker.buildMs,
    bytes: statSync(path).size,
  };
}

// Canonical JSON costs more than everything else in a build; the proof database reuses the entries
// of a pool (each leaf still differs: its text holds its index and storedAt).
const POOL = 4096;
let pool: LedgerRow[] | undefined;
function pooledRow(i: number): LedgerRow {
  pool ??= Array.from({ length: POOL }, (_, n) => ledgerRowOf(benchEntry(n)));
  const row = [...pool[i % POOL]!] as LedgerRow;
  row[3] = new Date().toISOString();
  return row;
}

async function build(path: string, privateKey: KeyObject, options: BuildOptions): Promise<void> {
  const store = new SqliteStore({ path });
  await store.migrate();
  await store.close();
  const db = new Database(path);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1048576'); // 1 GiB
    db.pragma('temp_store = memory');
    if (!options.queryIndexes) {
      const indexes = db
        .prepare<[], string>(
          "select name from sqlite_master where type = 'index' and name like 'ledger_leaves_%'",
        )
        .pluck()
        .all();
      for (const index of indexes) db.exec(`drop index ${index}`);
    }
    const commit = ledgerCommitter(db);
    const state = db.prepare<[], { size: number; frontier: Buffer }>(
      'select size, frontier from ledger_state where id = 1',
    );
    const addCheckpoint = db.prepare<[number, Buffer, string, string]>(
      'insert into ledger_checkpoints (size, root_hash, note, created_at) values (?, ?, ?, ?)',
    );
    const signer = signerFromPrivateKey(BENCH_ORIGIN, privateKey);
    const batch = options.batch ?? 20_000;
    const step = Math.max(batch, Math.floor(options.size / 10));
    let nextReport = step;
    const rowOf = options.queryIndexes ? (i: number) => ledgerRowOf(benchEntry(i)) : pooledRow;
    for (let start = 0; start < options.size; start += batch) {
      const end = Math.min(options.size, start + batch);
      const rows = [];
      for (let i = start; i < end; i++) rows.push(rowOf(i));
      commit(rows);
      const crossed = Math.floor(end / options.checkpointEvery) > Math.floor(start / options.checkpointEvery);
      if (crossed || end === options.size) {
        const head = state.get()!;
        const rootHash = stateRoot(head);
        const note = await signCheckpoint({ origin: BENCH_ORIGIN, size: head.size, rootHash }, [signer]);
        addCheckpoint.run(head.size, rootHash, note, new Date().toISOString());
      }
      if (end >= nextReport) {
        progress(`built ${fmt(end)} / ${fmt(options.size)} leaves`);
        nextReport += step;
      }
    }
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}
