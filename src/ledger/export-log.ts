/**
 * Ledger entries with their inclusion proofs, for `ztgate audit export`: every record is proven
 * against ONE fixed checkpoint (the latest stored one by default), so a reader verifies the
 * checkpoint's signature once and then each record with a few hashes.
 *
 * Entries at or past the checkpoint's size were appended after it was signed and cannot be proven
 * against it. By default they are still exported, with `covered: false` and `proof: null` (a later
 * export against a later checkpoint proves them); `coveredOnly` leaves them out instead.
 *
 * Fail closed: a leaf whose text does not hash to its stored leaf hash, a gap in the indexes, a
 * checkpoint whose note disagrees with its row or with the stored tree, or a proof that does not
 * verify against the checkpoint's root stops the export with an ExportLogError naming the index.
 */
import type { AuditEntry } from '../core/index.js';
import type { AuditRepository, StoredCheckpoint } from '../store/index.js';
import { parseCheckpoint } from './checkpoint.js';
import type { ExportOutcome, ExportRecord } from './export/types.js';
import { leafHash as hashLeaf, nodeHash } from './merkle.js';
import { inclusionProof, type LeafSource, type NodeCache } from './merkle-proofs.js';
import { verifyInclusion } from './merkle-verify.js';
import { parseNote } from './note.js';
import { storedRootHash } from './store-proofs.js';

export type ExportLogErrorCode =
  /** No checkpoint has been signed yet, so nothing can be proven. */
  | 'no_checkpoint'
  /** The checkpoint asked for (by size) is not stored. */
  | 'checkpoint_not_found'
  /** The checkpoint's note, its stored row and the stored tree do not agree. */
  | 'checkpoint_mismatch'
  /** from/to/pageSize are not a usable range. */
  | 'range_invalid'
  /** A leaf inside the range is not stored (a gap, or a shorter log than its tree head says). */
  | 'leaf_missing'
  /** A stored leaf does not hash to its stored leaf hash, or does not name its own index. */
  | 'leaf_mismatch'
  /** The proof built from storage does not verify against the checkpoint's root. */
  | 'proof_mismatch';

export class ExportLogError extends Error {
  readonly code: ExportLogErrorCode;
  constructor(code: ExportLogErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ExportLogError';
    this.code = code;
  }
}

/** The checkpoint every record of one export is proven against. */
export interface ExportCheckpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
  /** The signed note (C2SP checkpoint), exactly as stored; readers verify its signature. */
  readonly note: string;
}

/** An inclusion proof against the export's checkpoint: the audit path, base64 as in checkpoints. */
export interface ExportedProof {
  readonly size: number;
  readonly hashes: readonly string[];
}

/** One JSON Lines record. */
export interface ExportedEntry {
  readonly index: number;
  /** SHA-256(0x00 ‖ leaf text), hex. The leaf text is `{"entry":…,"index":…,"storedAt":…}` (RFC 8785). */
  readonly leafHash: string;
  readonly entry: AuditEntry;
  readonly storedAt: string;
  /** False for an entry appended after the checkpoint: it has no proof (yet). */
  readonly covered: boolean;
  readonly proof: ExportedProof | null;
}

export interface ExportEntriesOptions {
  /** First index (inclusive). Default 0. */
  readonly from?: number;
  /** End index (exclusive). Default: the tree size when the export starts (the checkpoint's size with coveredOnly). */
  readonly to?: number;
  /** The checkpoint to prove against (see resolveExportCheckpoint). Default: the latest stored one. */
  readonly checkpoint?: ExportCheckpoint;
  /** Leave out entries the checkpoint does not cover instead of exporting them without a proof. */
  readonly coveredOnly?: boolean;
  /** Leaves read per query. Default 1000, at most 10,000. */
  readonly pageSize?: number;
}

type LedgerReads = Pick<AuditRepository, 'leaves' | 'leafHashes' | 'node' | 'treeHead'>;
type CheckpointReads = Pick<AuditRepository, 'latestCheckpoint' | 'checkpoints' | 'leafHashes' | 'node'>;

const MAX_PAGE = 10_000;

/**
 * The stored checkpoint of exactly `size` leaves, or the latest one; its note must name the same
 * size and root as its row, and the stored tree must have that root at that size. The signature
 * is not checked here (that needs the ledger's public key: `ztgate audit verify` does it).
 */
export async function resolveExportCheckpoint(
  audit: CheckpointReads,
  size?: number,
): Promise<ExportCheckpoint> {
  let stored: StoredCheckpoint | undefined;
  if (size === undefined) {
    stored = await audit.latestCheckpoint();
    if (!stored) throw new ExportLogError('no_checkpoint', 'no checkpoint has been signed yet');
  } else {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new ExportLogError('range_invalid', 'bad checkpoint size');
    stored = (await audit.checkpoints({ afterSize: size - 1, limit: 1 }))[0];
    if (stored?.size !== size) {
      throw new ExportLogError('checkpoint_not_found', `no checkpoint of size ${size} is stored`);
    }
  }
  let origin: string;
  try {
    const body = parseCheckpoint(parseNote(stored.note).text);
    if (body.size !== stored.size || !Buffer.from(body.rootHash).equals(stored.rootHash)) {
      throw new Error('note and row differ');
    }
    origin = body.origin;
  } catch (cause) {
    const message = `checkpoint ${stored.size}: its note does not match its row`;
    throw new ExportLogError('checkpoint_mismatch', message, { cause });
  }
  const root = await storedRootHash(audit, stored.size).catch((cause: unknown) => {
    const message = `checkpoint ${stored.size}: the stored tree is shorter`;
    throw new ExportLogError('checkpoint_mismatch', message, { cause });
  });
  if (!root.equals(stored.rootHash)) {
    const message = `checkpoint ${stored.size}: the stored tree has another root at that size`;
    throw new ExportLogError('checkpoint_mismatch', message);
  }
  return { origin, size: stored.size, rootHash: Buffer.from(stored.rootHash), note: stored.note };
}

/** Yields the entries [from, to) in index order, each proven against one checkpoint when it can be. */
export async function* exportEntries(
  audit: LedgerReads & CheckpointReads,
  options: ExportEntriesOptions = {},
): AsyncGenerator<ExportedEntry, void, undefined> {
  const checkpoint = options.checkpoint ?? (await resolveExportCheckpoint(audit));
  const { from, to, pageSize } = await exportRange(audit, checkpoint, options);
  for (let start = from; start < to; start += pageSize) {
    const end = Math.min(to, start + pageSize);
    const leaves = await audit.leaves(start, end);
    if (leaves.length !== end - start) {
      throw new ExportLogError('leaf_missing', `ledger leaf ${start + leaves.length} is missing`);
    }
    const page = new ProofPage(audit, checkpoint, start, leaves.map(checkedLeafHash(start)));
    for (const leaf of leaves) {
      const parsed = parseLeaf(leaf.index, leaf.text);
      const covered = leaf.index < checkpoint.size;
      yield {
        index: leaf.index,
        leafHash: leaf.leafHash.toString('hex'),
        entry: parsed.entry,
        storedAt: parsed.storedAt,
        covered,
        proof: covered ? await page.proof(leaf.index, leaf.leafHash) : null,
      };
    }
  }
}

/** The export's first JSON Lines object: which log, which checkpoint, which range, which encodings. */
export interface ExportHeader {
  readonly format: 'ztgate-audit-export/1';
  readonly origin: string;
  readonly checkpoint: { readonly size: number; readonly rootHash: string; readonly note: string };
  readonly from: number;
  readonly to: number;
  readonly coveredOnly: boolean;
  readonly encoding: { readonly leafHash: 'hex'; readonly proof: 'base64' };
}

export async function exportHeader(
  audit: LedgerReads,
  checkpoint: ExportCheckpoint,
  options: Omit<ExportEntriesOptions, 'checkpoint'> = {},
): Promise<ExportHeader> {
  const { from, to } = await exportRange(audit, checkpoint, options);
  return {
    format: 'ztgate-audit-export/1',
    origin: checkpoint.origin,
    checkpoint: {
      size: checkpoint.size,
      rootHash: checkpoint.rootHash.toString('base64'),
      note: checkpoint.note,
    },
    from,
    to,
    coveredOnly: options.coveredOnly === true,
    encoding: { leafHash: 'hex', proof: 'base64' },
  };
}

/**
 * The [from, to) an export covers. Pass the same `to` to exportHeader and exportEntries (resolve
 * it once with this function): the default, the current tree size, moves while the gateway runs.
 */
export async function exportRange(
  audit: Pick<AuditRepository, 'treeHead'>,
  checkpoint: Pick<ExportCheckpoint, 'size'>,
  options: Omit<ExportEntriesOptions, 'checkpoint'>,
): Promise<{ from: number; to: number; pageSize: number }> {
  const pageSize = options.pageSize ?? 1000;
  const from = options.from ?? 0;
  const ceiling = options.coveredOnly ? checkpoint.size : (await audit.treeHead()).size;
  const to = Math.min(options.to ?? ceiling, ceiling);
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE) {
    throw new ExportLogError('range_invalid', `pageSize must be 1..${MAX_PAGE}`);
  }
  if (
    !Number.isSafeInteger(from) ||
    from < 0 ||
    (options.to !== undefined && !Number.isSafeInteger(options.to))
  ) {
    throw new ExportLogError('range_invalid', 'from and to must be non-negative integers');
  }
  if (options.to !== undefined && options.to < from)
    throw new ExportLogError('range_invalid', 'to is below from');
  return { from, to: Math.max(from, to), pageSize };
}

/** The sinks' record for an exported entry; the proof keeps base64, the leaf hash hex (as exported). */
export function toExportRecord(record: ExportedEntry, checkpoint: ExportCheckpoint): ExportRecord {
  return {
    index: record.index,
    time: record.storedAt,
    summary: entrySummary(record.entry),
    outcome: entryOutcome(record.entry),
    principal: record.entry.principalId,
    entry: record.entry as unknown as Readonly<Record<string, unknown>>,
    leafHash: record.leafHash,
    ...(record.proof
      ? {
          proof: {
            treeSize: record.proof.size,
            rootHash: checkpoint.rootHash.toString('base64'),
            hashes: record.proof.hashes,
          },
        }
      : {}),
  };
}

/** Server-side failures are errors; refusals (policy, auth, client errors) are denials. */
export function entryOutcome(entry: AuditEntry): ExportOutcome {
  if (entry.status >= 500) return 'error';
  if (entry.decision === 'deny' || entry.phase === 'refused' || entry.status >= 400) return 'denied';
  return 'allowed';
}

/** For example `allow chat.completions user-1 gpt-4o 200` or `control keys.rotate key:x@2 200`. */
export function entrySummary(entry: AuditEntry): string {
  const verdict = entry.phase === 'control' ? 'control' : (entry.decision ?? entry.phase);
  const subject = entry.phase === 'control' ? (entry.target ?? '-') : (entry.modelId ?? '-');
  const parts = [verdict, entry.action, entry.principalId ?? '-', subject, String(entry.status)];
  if (entry.errorCode) parts.push(entry.errorCode);
  return parts.join(' ');
}

function checkedLeafHash(start: number) {
  return (leaf: { index: number; leafHash: Buffer; text: string }, offset: number): Buffer => {
    if (leaf.index !== start + offset) {
      throw new ExportLogError('leaf_missing', `ledger leaf ${start + offset} is missing`);
    }
    if (!hashLeaf(Buffer.from(leaf.text, 'utf8')).equals(leaf.leafHash)) {
      throw new ExportLogError('leaf_mismatch', `ledger leaf ${leaf.index} does not hash to its stored hash`);
    }
    return leaf.leafHash;
  };
}

function parseLeaf(index: number, text: string): { entry: AuditEntry; storedAt: string } {
  let leaf: { entry?: unknown; index?: unknown; storedAt?: unknown };
  try {
    leaf = JSON.parse(text) as typeof leaf;
  } catch (cause) {
    throw new ExportLogError('leaf_mismatch', `ledger leaf ${index} is not JSON`, { cause });
  }
  if (
    leaf.index !== index ||
    typeof leaf.storedAt !== 'string' ||
    typeof leaf.entry !== 'object' ||
    leaf.entry === null
  ) {
    throw new ExportLogError('leaf_mismatch', `ledger leaf ${index} is not an entry with its own index`);
  }
  return { entry: leaf.entry as AuditEntry, storedAt: leaf.storedAt };
}

/**
 * Proofs for one page of consecutive leaves. Neighbouring leaves share most of their audit path,
 * so subtree hashes are memoised for the page; subtrees inside the page are hashed from the page's
 * leaves (no reads), the others read from the stored nodes once. About 2·page + log² n look-ups.
 */
class ProofPage {
  private readonly memo = new Map<string, Promise<Buffer | undefined>>();
  private readonly source: LeafSource;
  private readonly nodes: NodeCache;
  private readonly end: number;

  constructor(
    private readonly audit: Pick<AuditRepository, 'leafHashes' | 'node'>,
    private readonly checkpoint: ExportCheckpoint,
    private readonly start: number,
    private readonly hashes: readonly Buffer[],
  ) {
    this.end = start + hashes.length;
    this.source = { size: checkpoint.size, leafHash: (index) => this.leaf(index) };
    this.nodes = (level, index) => this.node(level, index);
  }

  async proof(index: number, leafHash: Buffer): Promise<ExportedProof> {
    const { size, rootHash } = this.checkpoint;
    const path = await inclusionProof(this.source, index, size, { nodeCache: this.nodes });
    try {
      verifyInclusion(leafHash, index, size, path, rootHash);
    } catch (cause) {
      throw new ExportLogError('proof_mismatch', `the proof of leaf ${index} does not verify`, { cause });
    }
    return { size, hashes: path.map((hash) => hash.toString('base64')) };
  }

  private async leaf(index: number): Promise<Buffer> {
    if (index >= this.start && index < this.end) return this.hashes[index - this.start]!;
    const hash = await this.remember(
      `0:${index}`,
      async () => (await this.audit.leafHashes(index, index + 1))[0],
    );
    if (!hash) throw new ExportLogError('leaf_missing', `ledger leaf ${index} is missing`);
    return hash;
  }

  private node(level: number, index: number): Promise<Buffer | undefined> {
    return this.remember(`${level}:${index}`, async () => {
      const width = 2 ** level;
      const first = index * width;
      if (first < this.start || first + width > this.end) return this.audit.node(level, index);
      const child = (i: number): Promise<Buffer | undefined> =>
        level === 1 ? this.leaf(i) : this.node(level - 1, i);
      const [left, right] = await Promise.all([child(2 * index), child(2 * index + 1)]);
      return left && right ? nodeHash(left, right) : undefined;
    });
  }

  private remember(key: string, load: () => Promise<Buffer | undefined>): Promise<Buffer | undefined> {
    let hit = this.memo.get(key);
    if (!hit) {
      hit = load();
      this.memo.set(key, hit);
    }
    return hit;
  }
}
