import type pg from 'pg';
import type { AuditEntry, AuditReceipt } from '../core/index.js';
import { sequence, stateRoot, type SequencedLeaf } from '../ledger/sequencer.js';
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
import { inTransaction } from './postgres-tx.js';
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
 * Migration 4 for PostgreSQL: the ledger (see sqlite-ledger.ts). Leaves are TEXT, not JSONB, so
 * they read back byte for byte as hashed; names use the "C" collation so that time text orders
 * by bytes whatever the locale.
 */
export const POSTGRES_LEDGER_MIGRATION = `
  create table ledger_leaves (
    idx bigint primary key,
    leaf_hash bytea not null,
    request_id text not null,
    principal_id text,
    phase text not null,
    stored_at text collate "C" not null,
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
    idx bigint not null,
    hash bytea not null,
    primary key (level, idx)
  );
  create table ledger_state (
    id integer primary key check (id = 1),
    size bigint not null,
    frontier bytea not null
  );
  insert into ledger_state (id, size, frontier) values (1, 0, ''::bytea);
  create table ledger_checkpoints (
    size bigint primary key,
    root_hash bytea not null,
    note text not null,
    created_at text not null
  );
`;

interface Waiter {
  readonly row: LedgerRow;
  readonly resolve: (receipt: AuditReceipt) => void;
  readonly reject: (err: Error) => void;
}

type CheckpointRow = { size: string; root_hash: Buffer; note: string; created_at: string };

function checkpointOf(row: CheckpointRow): StoredCheckpoint {
  return { size: Number(row.size), rootHash: row.root_hash, note: row.note, createdAt: row.created_at };
}

/**
 * The ledger on PostgreSQL. Appends queue while a commit is in flight and the next commit takes
 * them all (group commit). Each commit locks the one state row, so replicas sequence one after
 * another and indexes stay dense; a commit that fails rolls back whole, leaving no gap.
 */
export class PostgresAudit implements AuditRepository {
  #queue: Waiter[] = [];
  #flushing = false;

  constructor(private readonly pool: pg.Pool) {}

  append(entry: AuditEntry): Promise<AuditReceipt> {
    let row: LedgerRow;
    try {
      row = ledgerRowOf(entry);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ row, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        queueMicrotask(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, 1000);
      try {
        const receipts = await inTransaction(this.pool, (client) => this.#commit(client, batch));
        batch.forEach((w, i) => w.resolve(receipts[i] as AuditReceipt));
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        for (const w of batch) w.reject(new Error(`audit append failed: ${error.message}`));
      }
    }
    this.#flushing = false;
  }

  async #commit(client: pg.PoolClient, batch: readonly Waiter[]): Promise<AuditReceipt[]> {
    const leaves = await commitLedgerRows(
      client,
      batch.map((w) => w.row),
    );
    return leaves.map((leaf) => ({
      seq: leaf.index + 1,
      index: leaf.index,
      leafHash: leaf.leafHash.toString('hex'),
    }));
  }

  async list(query: AuditQuery = {}): Promise<readonly AuditRecord[]> {
    const { fromIndex, limit } = ledgerPageOf(query);
    const filters = filtersOf(query);
    const values: unknown[] = [fromIndex];
    const where = ['idx >= $1'];
    for (const f of filters) where.push(`${f.column} ${f.op} $${values.push(f.value)}`);
    const text = `select idx, stored_at, leaf from ledger_leaves where ${where.join(' and ')} order by idx limit $${values.push(limit)}`;
    const name = `ztgate_ledger_list_${filters.map((f) => `${f.column}${f.op === '=' ? 'eq' : f.op === '<' ? 'lt' : 'ge'}`).join('_')}`;
    const result = await this.pool.query<{ idx: string; stored_at: string; leaf: string }>({
      name,
      text,
      values,
    });
    return result.rows.map((row) => recordOfLeaf(Number(row.idx), row.stored_at, row.leaf));
  }

  async count(): Promise<number> {
    const result = await this.pool.query<{ size: string }>('select size from ledger_state where id = 1');
    return Number(result.rows[0]?.size ?? 0);
  }

  async treeHead(): Promise<TreeHead> {
    const result = await this.pool.query<{ size: string; frontier: Buffer }>(
      'select size, frontier from ledger_state where id = 1',
    );
    const row = result.rows[0];
    if (!row) throw new Error('ledger state row is missing');
    const state = { size: Number(row.size), frontier: row.frontier };
    return { size: state.size, rootHash: stateRoot(state) };
  }

  async leaves(start: number, end: number): Promise<readonly LedgerLeaf[]> {
    checkRange(start, end);
    const result = await this.pool.query<{ idx: string; leaf_hash: Buffer; leaf: string }>({
      name: 'ztgate_ledger_leaves',
      text: 'select idx, leaf_hash, leaf from ledger_leaves where idx >= $1 and idx < $2 order by idx',
      values: [start, Math.min(end, start + MAX_LEAVES_PER_READ)],
    });
    return result.rows.map((row) => ({ index: Number(row.idx), leafHash: row.leaf_hash, text: row.leaf }));
  }

  async leafHashes(start: number, end: number): Promise<readonly Buffer[]> {
    checkRange(start, end);
    const result = await this.pool.query<{ leaf_hash: Buffer }>({
      name: 'ztgate_ledger_leaf_hashes',
      text: 'select leaf_hash from ledger_leaves where idx >= $1 and idx < $2 order by idx',
      values: [start, Math.min(end, start + MAX_LEAVES_PER_READ)],
    });
    return result.rows.map((row) => row.leaf_hash);
  }

  async node(level: number, index: number): Promise<Buffer | undefined> {
    checkNodeAddress(level, index);
    const result = await this.pool.query<{ hash: Buffer }>({
      name: 'ztgate_ledger_node',
      text: 'select hash from ledger_nodes where level = $1 and idx = $2',
      values: [level, index],
    });
    return result.rows[0]?.hash;
  }

  async firstColumnMismatch(): Promise<number | undefined> {
    const result = await this.pool.query<{ idx: string }>(
      `select idx from (select idx, request_id, principal_id, phase, stored_at, decision, model_id, data_class,
                               leaf::jsonb as l from ledger_leaves) x
       where (request_id, principal_id, phase, stored_at, decision, model_id, data_class) is distinct from
             (l->'entry'->>'requestId', l->'entry'->>'principalId', l->'entry'->>'phase', l->>'storedAt',
              l->'entry'->>'decision', l->'entry'->>'modelId', l->'entry'->>'dataClass')
       order by idx limit 1`,
    );
    const row = result.rows[0];
    return row ? Number(row.idx) : undefined;
  }

  async addCheckpoint(checkpoint: StoredCheckpoint): Promise<boolean> {
    checkCheckpoint(checkpoint);
    const result = await this.pool.query({
      name: 'ztgate_ledger_add_checkpoint',
      text: 'insert into ledger_checkpoints (size, root_hash, note, created_at) values ($1, $2, $3, $4) on conflict (size) do nothing',
      values: [checkpoint.size, checkpoint.rootHash, checkpoint.note, checkpoint.createdAt],
    });
    return (result.rowCount ?? 0) > 0;
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const result = await this.pool.query<CheckpointRow>(
      'select size, root_hash, note, created_at from ledger_checkpoints order by size desc limit 1',
    );
    const row = result.rows[0];
    return row && checkpointOf(row);
  }

  async checkpoints(
    query: { afterSize?: number; limit?: number } = {},
  ): Promise<readonly StoredCheckpoint[]> {
    const after = Math.floor(query.afterSize ?? -1);
    const result = await this.pool.query<CheckpointRow>({
      name: 'ztgate_ledger_checkpoints',
      text: 'select size, root_hash, note, created_at from ledger_checkpoints where size > $1 order by size limit $2',
      values: [Number.isFinite(after) ? after : -1, limitOf(query.limit)],
    });
    return result.rows.map(checkpointOf);
  }
}

/**
 * Sequences and stores rows inside the caller's transaction: locks the one state row (so that
 * replicas sequence one after another), inserts the leaves and completed subtrees, and writes the
 * new frontier.
 */
export async function commitLedgerRows(
  client: pg.PoolClient,
  rows: readonly LedgerRow[],
): Promise<readonly SequencedLeaf[]> {
  const stateRow = await client.query<{ size: string; frontier: Buffer }>({
    name: 'ztgate_ledger_state_lock',
    text: 'select size, frontier from ledger_state where id = 1 for update',
  });
  const state = stateRow.rows[0];
  if (!state) throw new Error('ledger state row is missing');
  const sequenced = sequence(
    { size: Number(state.size), frontier: state.frontier },
    rows.map((row) => ({ entryJson: row[7], storedAt: row[3] })),
  );
  const column = (i: number): unknown[] => rows.map((row) => row[i]);
  await client.query({
    name: 'ztgate_ledger_insert_leaves',
    text: `insert into ledger_leaves (idx, leaf_hash, request_id, principal_id, phase, stored_at, decision, model_id, data_class, leaf)
           select * from unnest($1::bigint[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])`,
    values: [
      sequenced.leaves.map((l) => l.index),
      sequenced.leaves.map((l) => l.leafHash),
      ...[0, 1, 2, 3, 4, 5, 6].map(column),
      sequenced.leaves.map((l) => l.text),
    ],
  });
  if (sequenced.nodes.length > 0) {
    await client.query({
      name: 'ztgate_ledger_insert_nodes',
      text: 'insert into ledger_nodes (level, idx, hash) select * from unnest($1::int[], $2::bigint[], $3::bytea[])',
      values: [
        sequenced.nodes.map((n) => n.level),
        sequenced.nodes.map((n) => n.index),
        sequenced.nodes.map((n) => n.hash),
      ],
    });
  }
  await client.query({
    name: 'ztgate_ledger_state_write',
    text: 'update ledger_state set size = $1, frontier = $2 where id = 1',
    values: [sequenced.state.size, sequenced.state.frontier],
  });
  return sequenced.leaves;
}

/**
 * Moves the plain audit rows of a database from before the ledger into it, in order and with
 * their storage times, inside the caller's (migration) transaction; empties the old table.
 */
export async function importLegacyAudit(client: pg.PoolClient): Promise<number> {
  const legacy = await client.query<{ stored_at: string; entry: string }>(
    'select stored_at, entry from audit_log order by seq',
  );
  const rows = legacy.rows.map((row) => legacyLedgerRow(JSON.parse(row.entry) as AuditEntry, row.stored_at));
  for (let i = 0; i < rows.length; i += 1000) await commitLedgerRows(client, rows.slice(i, i + 1000));
  if (rows.length > 0) await client.query('delete from audit_log');
  return rows.length;
}
