import type { AuditEntry } from '../core/index.js';
import { canonicalJson } from '../ledger/canonical-json.js';
import { HASH_SIZE } from '../ledger/merkle.js';
import { pageOf } from './shared.js';
import type { AuditQuery, AuditRecord, StoredCheckpoint } from './types.js';

/**
 * What the main thread hands to the ledger writer for one entry: the indexed columns, the time
 * it was stored and the entry's canonical JSON. The writer adds the index inside its transaction.
 */
export type LedgerRow = [
  requestId: string,
  principalId: string | null,
  phase: string,
  storedAt: string,
  decision: string | null,
  modelId: string | null,
  dataClass: string | null,
  entryJson: string,
];

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** String.prototype.toWellFormed (ES2024, not yet in our TypeScript lib). */
function wellFormedString(s: string): string {
  return s.replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * A copy of `value` with every lone UTF-16 surrogate (in strings and keys) replaced by U+FFFD.
 * Entries carry strings that callers chose (principal ids, claims); a lone surrogate has no UTF-8
 * form, and refusing it would let one caller make every append of theirs fail.
 */
export function wellFormed(value: unknown): unknown {
  if (typeof value === 'string') return wellFormedString(value);
  if (Array.isArray(value)) return value.map(wellFormed);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // An undefined member is absent in JSON: dropped here as JSON.stringify drops it.
    for (const [key, item] of Object.entries(value))
      if (item !== undefined) out[wellFormedString(key)] = wellFormed(item);
    return out;
  }
  return value;
}

/** Canonicalises an entry (throws CanonicalJsonError for what JSON cannot hold) into a row. */
export function ledgerRowOf(entry: AuditEntry): LedgerRow {
  return legacyLedgerRow(entry, new Date().toISOString());
}

/** A row for an entry stored at `storedAt` (a plain audit row moved into the ledger keeps its time). */
export function legacyLedgerRow(entry: AuditEntry, storedAt: string): LedgerRow {
  // The columns come from the same well-formed copy as the leaf, so that they always match it.
  const clean = wellFormed(entry) as AuditEntry;
  return [
    clean.requestId,
    clean.principalId ?? null,
    clean.phase,
    storedAt,
    clean.decision ?? null,
    clean.modelId ?? null,
    clean.dataClass ?? null,
    canonicalJson(clean),
  ];
}

/** A stored leaf's text back as a record. */
export function recordOfLeaf(index: number, storedAt: string, text: string): AuditRecord {
  const leaf = JSON.parse(text) as { entry: AuditEntry };
  return { seq: index + 1, storedAt, entry: leaf.entry };
}

/** The filters of an audit query as (column, operator, value) triples, in a fixed order. */
export interface LedgerFilter {
  readonly column: string;
  readonly op: '=' | '>=' | '<';
  readonly value: string;
}

/** Query filters in a stable order, so that each combination prepares one statement. */
export function filtersOf(query: AuditQuery): LedgerFilter[] {
  const filters: LedgerFilter[] = [];
  const add = (column: string, op: LedgerFilter['op'], value: string | undefined): void => {
    if (value !== undefined) filters.push({ column, op, value: String(value) });
  };
  add('request_id', '=', query.requestId);
  add('principal_id', '=', query.principalId);
  add('decision', '=', query.decision);
  add('model_id', '=', query.modelId);
  add('data_class', '=', query.dataClass);
  add('phase', '=', query.phase);
  add('stored_at', '>=', query.since);
  add('stored_at', '<', query.until);
  return filters;
}

/** Paging bounds of a query, as leaf indexes: records with index ≥ `fromIndex`. */
export function ledgerPageOf(query: AuditQuery): { fromIndex: number; limit: number } {
  const { afterSeq, limit } = pageOf(query);
  return { fromIndex: afterSeq, limit };
}

/** Throws a TypeError for a leaf range that is not two non-negative safe integers. */
export function checkRange(start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < 0) {
    throw new TypeError('ledger: a leaf range is two non-negative integers');
  }
}

export function checkNodeAddress(level: number, index: number): void {
  if (!Number.isSafeInteger(level) || !Number.isSafeInteger(index) || level < 1 || level > 62 || index < 0) {
    throw new TypeError('ledger: a node address is a level ≥ 1 and an index ≥ 0');
  }
}

export function checkCheckpoint(checkpoint: StoredCheckpoint): void {
  if (!Number.isSafeInteger(checkpoint.size) || checkpoint.size < 0)
    throw new TypeError('ledger: checkpoint size must be a non-negative integer');
  if (!Buffer.isBuffer(checkpoint.rootHash) || checkpoint.rootHash.length !== HASH_SIZE)
    throw new TypeError('ledger: checkpoint root hash must be 32 bytes');
  if (typeof checkpoint.note !== 'string' || checkpoint.note.length === 0)
    throw new TypeError('ledger: checkpoint note must be text');
}

/** Most leaves one `leaves`/`leafHashes` call returns, to bound memory. */
export const MAX_LEAVES_PER_READ = 10_000;
