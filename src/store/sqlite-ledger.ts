import type Database from 'better-sqlite3';
import type { AuditEntry, AuditReceipt } from '../core/index.js';
import { sequence, stateRoot, type SequencerState } from '../ledger/sequencer.js';
import {
  checkCheckpoint,
  checkNodeAddress,
  checkRange,
  filtersOf,
  ledgerPageOf,
  ledgerRowOf,
  legacyLedgerRow,
  MAX_LEAVES_PER_READ,
  recordOfLeaf,
  type LedgerRow,
} from './ledger-shared.js';
import type { SqliteWriter } from './sqlite-writer.js';
import { limitOf } from './shared.js';
import type {
  AuditQuery,
  AuditRecord,
  AuditRepository,
  LedgerLeaf,
  StoredCheckpoint,
  TreeHead,
} from './types.js';

/**
 * Migration 4 for SQLite: the ledger. `ledger_leaves` holds each leaf's canonical text with its
 * hash and the columns queries filter on; `ledger_nodes` the perfect subtrees proofs read;
 * `ledger_state` the sequencer's frontier (one row); `ledger_checkpoints` the signed tree heads.
 * The plain `audit_log` of earlier versions stays as it was, outside the tree.
 */
export const SQLITE_LEDGER_MIGRATION = `
  create table ledger_leaves (
    idx integer primary key,
    leaf_hash blob not null,
    request_id text not null,
    principal_id text,
    phase text not null,
    stored_at text not null,
    decision text,
    model_id text,
    data_class text,
    leaf text not null
  );
  create index ledger_leaves_request on ledger_leaves (request_id);
  create index ledger_leaves_principal on ledger_leaves (principal_id, idx);
  create index ledger_leaves_stored_at on ledger_leaves (stored_at);
  create index ledger_leaves_decision on ledger_leaves (decision, idx);
  create index ledger_leaves_model on ledger_leaves (model_id, idx);
  create index ledger_leaves_class on ledger_leaves (data_class, idx);
  create table ledger_nodes (
    level integer not null,
    idx integer not null,
    hash blob not null,
    primary key (level, idx)
  ) without rowid;
  create table ledger_state (
    id integer primary key check (id = 1),
    size integer not null,
    frontier blob not null
  );
  insert into ledger_state (id, size, frontier) values (1, 0, x'');
  create table ledger_checkpoints (
    size integer primary key,
    root_hash blob not null,
    note text not null,
    created_at text not null
  );
`;

/** What one committed entry got: its index and leaf hash (hex). */
export interface CommittedLeaf {
  readonly index: number;
  readonly leafHash: string;
}

/**
 * Sequences and stores `rows` in one IMMEDIATE transaction on `db`: reads the frontier, inserts
 * the leaves, the completed nodes and the new frontier. Reading the state inside the write lock
 * keeps indexes dense when other processes (CLI commands) append to the same file.
 */
export function ledgerCommitter(db: Database.Database): (rows: readonly LedgerRow[]) => CommittedLeaf[] {
  const commitRows = ledgerRowWriter(db);
  const commit = db.transaction(commitRows);
  return (rows) => commit.immediate(rows);
}

/** Sequences and stores rows inside the caller's transaction. */
function ledgerRowWriter(db: Database.Database): (rows: readonly LedgerRow[]) => CommittedLeaf[] {
  const readState = db.prepare<[], { size: number; frontier: Buffer }>(
    'select size, frontier from ledger_state where id = 1',
  );
  const insertLeaf = db.prepare<
    [
      number,
      Buffer,
      string,
      string | null,
      string,
      string,
      string | null,
      string | null,
      string | null,
      string,
    ]
  >(
    'insert into ledger_leaves (idx, leaf_hash, request_id, principal_id, phase, stored_at, decision, model_id, data_class, leaf) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertNode = db.prepare<[number, number, Buffer]>(
    'insert into ledger_nodes (level, idx, hash) values (?, ?, ?)',
  );
  const writeState = db.prepare<[number, Buffer]>(
    'update ledger_state set size = ?, frontier = ? where id = 1',
  );
  return (rows) => {
    const state = readState.get();
    if (!state) throw new Error('ledger state row is missing');
    const batch = sequence(
      state,
      rows.map((row) => ({ entryJson: row[7], storedAt: row[3] })),
    );
    const committed: CommittedLeaf[] = [];
    batch.leaves.forEach((leaf, i) => {
      const [requestId, principalId, phase, storedAt, decision, modelId, dataClass] = rows[i] as LedgerRow;
      insertLeaf.run(
        leaf.index,
        leaf.leafHash,
        requestId,
        principalId,
        phase,
        storedAt,
        decision,
        modelId,
        dataClass,
        leaf.text,
      );
      committed.push({ index: leaf.index, leafHash: leaf.leafHash.toString('hex') });
    });
    for (const node of batch.nodes) insertNode.run(node.level, node.index, node.hash);
    writeState.run(batch.state.size, batch.state.frontier);
    return committed;
  };
}

/**
 * Moves the plain audit rows of a database from before the ledger (schema version < 4) into the
 * ledger, in their order and with their storage times, in one transaction: they become its first
 * leaves, and the old table is emptied so that this runs once.
 */
export function importLegacyAudit(db: Database.Database): number {
  const legacy = db.prepare<[], { stored_at: string; entry: string }>(
    'select stored_at, entry from audit_log order by seq',
  );
  const write = ledgerRowWriter(db);
  const move = db.transaction((): number => {
    const rows = legacy
      .all()
      .map((row) => legacyLedgerRow(JSON.parse(row.entry) as AuditEntry, row.stored_at));
    for (let i = 0; i < rows.length; i += 1000) write(rows.slice(i, i + 1000));
    db.prepare('delete from audit_log').run();
    return rows.length;
  });
  return move.immediate();
}

type LeafRow = { idx: number; stored_at: string; leaf: string };

interface LedgerStatements {
  readonly commit: (rows: readonly LedgerRow[]) => CommittedLeaf[];
  readonly state: Database.Statement<[], SequencerState>;
  readonly count: Database.Statement<[], number>;
  readonly leaves: Database.Statement<[number, number], [number, Buffer, string]>;
  readonly leafHashes: Database.Statement<[number, number], Buffer>;
  readonly node: Database.Statement<[number, number], Buffer>;
  readonly columnMismatch: Database.Statement<[], number>;
  readonly addCheckpoint: Database.Statement<[number, Buffer, string, string]>;
  readonly latestCheckpoint: Database.Statement<[], CheckpointRow>;
  readonly checkpoints: Database.Statement<[number, number], CheckpointRow>;
  readonly lists: Map<string, Database.Statement<unknown[], LeafRow>>;
}

type CheckpointRow = { size: number; root_hash: Buffer; note: string; created_at: string };

export function prepareLedger(db: Database.Database): LedgerStatements {
  return {
    commit: ledgerCommitter(db),
    state: db.prepare('select size, frontier from ledger_state where id = 1'),
    count: db.prepare<[], number>('select size from ledger_state where id = 1').pluck(),
    // Rows as arrays: verification reads every leaf, and named-column objects cost twice as much.
    leaves: db
      .prepare<[number, number], [number, Buffer, string]>(
        'select idx, leaf_hash, leaf from ledger_leaves where idx >= ? and idx < ? order by idx',
      )
      .raw(),
    leafHashes: db
      .prepare<[number, number], Buffer>(
        'select leaf_hash from ledger_leaves where idx >= ? and idx < ? order by idx',
      )
      .pluck(),
    node: db
      .prepare<[number, number], Buffer>('select hash from ledger_nodes where level = ? and idx = ?')
      .pluck(),
    // One JSON parse per row (multi-path json_extract gives an array), compared as SQLite JSON text.
    columnMismatch: db
      .prepare<[], number>(
        `select idx from ledger_leaves
         where json_array(request_id, principal_id, phase, stored_at, decision, model_id, data_class)
           is not json_extract(leaf, '$.entry.requestId', '$.entry.principalId', '$.entry.phase', '$.storedAt',
                               '$.entry.decision', '$.entry.modelId', '$.entry.dataClass')
         order by idx limit 1`,
      )
      .pluck(),
    addCheckpoint: db.prepare(
      'insert into ledger_checkpoints (size, root_hash, note, created_at) values (?, ?, ?, ?) on conflict (size) do nothing',
    ),
    latestCheckpoint: db.prepare(
      'select size, root_hash, note, created_at from ledger_checkpoints order by size desc limit 1',
    ),
    checkpoints: db.prepare(
      'select size, root_hash, note, created_at from ledger_checkpoints where size > ? order by size limit ?',
    ),
    lists: new Map(),
  };
}

function checkpointOf(row: CheckpointRow): StoredCheckpoint {
  return { size: row.size, rootHash: row.root_hash, note: row.note, createdAt: row.created_at };
}

/**
 * The ledger on SQLite. Appends go through the writer thread when there is one (file databases:
 * group commit, fsync off the event loop), else through the main connection (`:memory:`).
 */
export class SqliteAudit implements AuditRepository {
  constructor(
    private readonly statements: () => LedgerStatements,
    private readonly db: () => Database.Database,
    private readonly writer: () => SqliteWriter | undefined,
  ) {}

  async append(entry: AuditEntry): Promise<AuditReceipt> {
    const row = ledgerRowOf(entry);
    const writer = this.writer();
    const [leaf] = writer ? await writer.append([row]) : this.statements().commit([row]);
    if (leaf === undefined) throw new Error('ledger writer returned no leaf');
    return { seq: leaf.index + 1, index: leaf.index, leafHash: leaf.leafHash };
  }

  async list(query: AuditQuery = {}): Promise<readonly AuditRecord[]> {
    const { fromIndex, limit } = ledgerPageOf(query);
    const filters = filtersOf(query);
    const key = filters.map((f) => `${f.column}${f.op}`).join(',');
    const lists = this.statements().lists;
    let statement = lists.get(key);
    if (!statement) {
      const where = ['idx >= ?', ...filters.map((f) => `${f.column} ${f.op} ?`)].join(' and ');
      statement = this.db().prepare<unknown[], LeafRow>(
        `select idx, stored_at, leaf from ledger_leaves where ${where} order by idx limit ?`,
      );
      lists.set(key, statement);
    }
    const rows = statement.all(fromIndex, ...filters.map((f) => f.value), limit);
    return rows.map((row) => recordOfLeaf(row.idx, row.stored_at, row.leaf));
  }

  async count(): Promise<number> {
    return this.statements().count.get() ?? 0;
  }

  async treeHead(): Promise<TreeHead> {
    const state = this.statements().state.get();
    if (!state) throw new Error('ledger state row is missing');
    return { size: state.size, rootHash: stateRoot(state) };
  }

  async leaves(start: number, end: number): Promise<readonly LedgerLeaf[]> {
    checkRange(start, end);
    const rows = this.statements().leaves.all(start, Math.min(end, start + MAX_LEAVES_PER_READ));
    return rows.map(([index, leafHash, text]) => ({ index, leafHash, text }));
  }

  async leafHashes(start: number, end: number): Promise<readonly Buffer[]> {
    checkRange(start, end);
    return this.statements().leafHashes.all(start, Math.min(end, start + MAX_LEAVES_PER_READ));
  }

  async node(level: number, index: number): Promise<Buffer | undefined> {
    checkNodeAddress(level, index);
    return this.statements().node.get(level, index);
  }

  async firstColumnMismatch(): Promise<number | undefined> {
    return this.statements().columnMismatch.get();
  }

  async addCheckpoint(checkpoint: StoredCheckpoint): Promise<boolean> {
    checkCheckpoint(checkpoint);
    const { size, rootHash, note, createdAt } = checkpoint;
    return this.statements().addCheckpoint.run(size, rootHash, note, createdAt).changes > 0;
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const row = this.statements().latestCheckpoint.get();
    return row && checkpointOf(row);
  }

  async checkpoints(
    query: { afterSize?: number; limit?: number } = {},
  ): Promise<readonly StoredCheckpoint[]> {
    const after = Math.floor(query.afterSize ?? -1);
    return this.statements()
      .checkpoints.all(Number.isFinite(after) ? after : -1, limitOf(query.limit))
      .map(checkpointOf);
  }
}
