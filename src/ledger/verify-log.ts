/**
 * Offline verification of a stored ledger (`ztgate audit verify`): every leaf is re-read from
 * storage, its text checked (canonical JSON naming its own index) and re-hashed, the tree is
 * recomputed from those hashes, and every signed checkpoint (stored, or held by an auditor) must
 * verify and commit to the recomputed root at its size. Stored leaf hashes and the sequencer's
 * tree head are compared with the recomputation, never used in it. (The stored subtrees that proofs
 * read are not: a proof built from a damaged one fails its own verification.)
 *
 * Leaves are streamed in pages; memory stays O(page + log n) whatever the log's size.
 */
import type { AuditRepository, StoredCheckpoint } from '../store/index.js';
import { openCheckpoint } from './checkpoint.js';
import { MerkleFrontier } from './merkle.js';
import type { NoteVerifier } from './note.js';
import { checkLeaf } from './verify-leaf.js';

export interface LedgerVerifyOptions {
  /** The log's origin (checkpoint first line). */
  readonly origin: string;
  /** Keys whose signatures on stored checkpoints count (the ledger key's versions). */
  readonly verifiers: readonly NoteVerifier[];
  /** Signed checkpoints held outside the store (an auditor's copy, a witness's): each must verify and match. */
  readonly externalCheckpoints?: readonly string[];
  /** Told every so many leaves, for a progress line. */
  readonly onProgress?: (verifiedLeaves: number, size: number) => void;
}

export type LedgerProblemCode =
  /** A leaf index is absent from storage (a deleted row). */
  | 'leaf_missing'
  /** A row that the log never appended: a duplicate index, a copied row, a row past the tree head. */
  | 'leaf_inserted'
  /** The row at this index holds the entry of a later index (rows reordered or renumbered). */
  | 'leaf_out_of_order'
  /** The leaf text is not canonical JSON of {entry, index, storedAt}. */
  | 'leaf_malformed'
  /** SHA-256(0x00 ‖ text) is not the stored leaf hash: the text was edited. */
  | 'leaf_modified'
  /** A signed checkpoint's root is not the recomputed root at its size. */
  | 'checkpoint_mismatch'
  /** A checkpoint note that does not verify with the ledger's keys, or is of another log. */
  | 'checkpoint_signature'
  /** A stored checkpoint row whose size or root columns differ from its signed note. */
  | 'checkpoint_row_mismatch'
  /** A checkpoint (or the tree head) counts more leaves than storage holds. */
  | 'log_truncated'
  /** The sequencer's tree head is not the recomputed root of the whole log. */
  | 'state_mismatch'
  /** A leaf's query columns (principal, time, decision, …) differ from its text: searches would miss or misfile it. */
  | 'index_column_mismatch';

export interface LedgerProblem {
  /** Stable code, for example `leaf_modified`, `leaf_missing`, `leaf_out_of_order`, `checkpoint_mismatch`. */
  readonly code: LedgerProblemCode;
  /** The first leaf index known to be bad, when it can be named. */
  readonly index?: number;
  /** The size of the checkpoint the problem is about, for checkpoint problems. */
  readonly checkpointSize?: number;
  readonly message: string;
}

export interface LedgerVerifyReport {
  readonly ok: boolean;
  /** Leaves in storage (when verification stopped early: the leaves read so far, or the tree head's size if larger). */
  readonly size: number;
  /** Checkpoints verified (stored and external). */
  readonly checkpoints: number;
  /** Size of the largest checkpoint that verified and matched. */
  readonly coveredSize: number;
  /** Leaves after coveredSize: verified, but not yet committed to by any signed checkpoint (not an error). */
  readonly uncoveredLeaves: number;
  /** The recomputed root of the leaves verified (of the whole log when ok). */
  readonly rootHash: Buffer;
  readonly problem?: LedgerProblem;
}

/** What verification reads; with `list`, rows stored far past the end of the log are found too. */
export type LedgerVerifyReads = Pick<AuditRepository, 'leaves' | 'treeHead' | 'checkpoints' | 'count'> &
  Partial<Pick<AuditRepository, 'list' | 'firstColumnMismatch'>>;

/** Leaves per read: the most AuditRepository.leaves returns in one call. */
const PAGE = 10_000;
const CHECKPOINT_PAGE = 1000;

/** A checkpoint to compare with the recomputed tree, opened lazily (stored) or up front (external). */
interface PendingCheckpoint {
  readonly size: number;
  readonly source: string;
  /** The opened root, or the problem with the checkpoint itself. */
  readonly open: () => { rootHash: Uint8Array } | LedgerProblem;
}

class Stop {
  constructor(readonly problem: LedgerProblem) {}
}

/**
 * The stored checkpoints (ascending, paged) merged with the external ones. Stored pages are fetched
 * again after the last one, so checkpoints added while verification runs are seen too.
 */
class CheckpointQueue {
  readonly #audit: LedgerVerifyReads;
  readonly #options: LedgerVerifyOptions;
  readonly #external: PendingCheckpoint[];
  #stored: StoredCheckpoint[] = [];
  #afterSize = -1;

  constructor(audit: LedgerVerifyReads, options: LedgerVerifyOptions, external: PendingCheckpoint[]) {
    this.#audit = audit;
    this.#options = options;
    this.#external = external;
  }

  /** The smallest pending checkpoint size, or Infinity. */
  async peekSize(): Promise<number> {
    if (this.#stored.length === 0) {
      this.#stored = [
        ...(await this.#audit.checkpoints({ afterSize: this.#afterSize, limit: CHECKPOINT_PAGE })),
      ];
      const last = this.#stored[this.#stored.length - 1];
      if (last) this.#afterSize = last.size;
    }
    return Math.min(this.#stored[0]?.size ?? Infinity, this.#external[0]?.size ?? Infinity);
  }

  /** Removes and returns the pending checkpoints of exactly `size` (peekSize first). */
  take(size: number): PendingCheckpoint[] {
    const taken: PendingCheckpoint[] = [];
    while (this.#stored[0]?.size === size) taken.push(this.#openStored(this.#stored.shift()!));
    while (this.#external[0]?.size === size) taken.push(this.#external.shift()!);
    return taken;
  }

  #openStored(row: StoredCheckpoint): PendingCheckpoint {
    const { origin, verifiers } = this.#options;
    const source = `the stored checkpoint at size ${row.size}`;
    return {
      size: row.size,
      source,
      open: () => {
        const opened = openSigned(row.note, verifiers, origin, source, row.size);
        if (!('rootHash' in opened)) return opened;
        if (opened.size !== row.size || !Buffer.from(opened.rootHash).equals(row.rootHash)) {
          return {
            code: 'checkpoint_row_mismatch',
            checkpointSize: row.size,
            message: `${source}: its size or root column differs from what its signed note says`,
          };
        }
        return opened;
      },
    };
  }
}

function openSigned(
  note: string,
  verifiers: readonly NoteVerifier[],
  origin: string,
  source: string,
  size?: number,
): { size: number; rootHash: Uint8Array } | LedgerProblem {
  try {
    const { checkpoint } = openCheckpoint(note, verifiers, { origin });
    return { size: checkpoint.size, rootHash: checkpoint.rootHash };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return {
      code: 'checkpoint_signature',
      ...(size === undefined ? {} : { checkpointSize: size }),
      message: `${source} does not verify as a checkpoint of ${origin} signed by a ledger key${
        typeof code === 'string' ? ` (${code})` : ''
      }`,
    };
  }
}

function openExternal(options: LedgerVerifyOptions): PendingCheckpoint[] | LedgerProblem {
  const pending: PendingCheckpoint[] = [];
  for (const [i, note] of (options.externalCheckpoints ?? []).entries()) {
    const source = `external checkpoint #${i + 1}`;
    const opened = openSigned(note, options.verifiers, options.origin, source);
    if (!('rootHash' in opened)) return opened;
    pending.push({ size: opened.size, source: `${source} (size ${opened.size})`, open: () => opened });
  }
  return pending.sort((a, b) => a.size - b.size);
}

/** Recomputes the ledger from storage and checks it against every checkpoint; never throws for bad data. */
export async function verifyLedger(
  audit: LedgerVerifyReads,
  options: LedgerVerifyOptions,
): Promise<LedgerVerifyReport> {
  const frontier = new MerkleFrontier();
  let checkpoints = 0;
  let coveredSize = 0;
  let head = await audit.treeHead();
  const report = (problem?: LedgerProblem): LedgerVerifyReport => ({
    ok: problem === undefined,
    size: problem ? Math.max(frontier.size, head.size) : frontier.size,
    checkpoints,
    coveredSize,
    uncoveredLeaves: Math.max(0, frontier.size - coveredSize),
    rootHash: frontier.root(),
    ...(problem ? { problem } : {}),
  });

  const external = openExternal(options);
  if (!Array.isArray(external)) return report(external);
  const queue = new CheckpointQueue(audit, options, external);
  let nextSize = await queue.peekSize();

  /** Checks the checkpoints at the current size against the recomputed root. */
  const reachCheckpoints = async (): Promise<void> => {
    const size = frontier.size;
    const root = frontier.root();
    for (const pending of queue.take(size)) {
      const opened = pending.open();
      if (!('rootHash' in opened)) throw new Stop(opened);
      if (!root.equals(opened.rootHash)) {
        throw new Stop({
          code: 'checkpoint_mismatch',
          index: coveredSize,
          checkpointSize: size,
          message: `leaves ${coveredSize}..${size - 1} do not match ${pending.source}: one of them was changed, or the checkpoint signs another tree`,
        });
      }
      checkpoints += 1;
    }
    coveredSize = size;
    nextSize = await queue.peekSize();
  };

  /** Streams the leaves from the current size until storage holds no more at or past `target`. */
  const stream = async (target: number): Promise<void> => {
    for (let cursor = frontier.size; ; cursor += PAGE) {
      const page = await audit.leaves(cursor, cursor + PAGE);
      if (page.length === 0 && cursor >= target) return;
      for (const leaf of page) {
        if (nextSize === frontier.size) await reachCheckpoints();
        const checked = checkLeaf(leaf, frontier.size);
        if (!Buffer.isBuffer(checked)) throw new Stop(checked);
        frontier.append(checked);
      }
      if (page.length > 0) options.onProgress?.(frontier.size, Math.max(target, frontier.size));
    }
  };

  try {
    for (let target = head.size; ; target = head.size) {
      await stream(target);
      nextSize = await queue.peekSize();
      // Stored while the leaves were read, for a size already passed: the next run checks them.
      while (nextSize < frontier.size) {
        queue.take(nextSize);
        nextSize = await queue.peekSize();
      }
      if (nextSize === frontier.size) await reachCheckpoints();
      head = await audit.treeHead();
      // The log grew while it was read (a running gateway): verify the new leaves too.
      if (head.size <= frontier.size || head.size === target) break;
    }
    if (nextSize !== Infinity) {
      // A checkpoint past the end: a forged one is reported as such, a genuine one means truncation.
      const [pending] = queue.take(nextSize);
      const opened = pending?.open();
      if (opened && !('rootHash' in opened)) throw new Stop(opened);
    }
    finalChecks(frontier, head, nextSize);
    await checkNothingPastEnd(audit, frontier.size);
    const misfiled = await audit.firstColumnMismatch?.();
    if (misfiled !== undefined) {
      throw new Stop({
        code: 'index_column_mismatch',
        index: misfiled,
        message: `leaf ${misfiled}: its query columns differ from its signed text (edited to hide it from searches)`,
      });
    }
  } catch (err) {
    if (err instanceof Stop) return report(err.problem);
    throw err;
  }
  return report();
}

function finalChecks(
  frontier: MerkleFrontier,
  head: { size: number; rootHash: Buffer },
  nextCheckpoint: number,
): void {
  const size = frontier.size;
  if (nextCheckpoint !== Infinity) {
    throw new Stop({
      code: 'log_truncated',
      index: size,
      checkpointSize: nextCheckpoint,
      message: `a signed checkpoint counts ${nextCheckpoint} leaves but storage holds ${size}: leaves from ${size} on were removed`,
    });
  }
  if (head.size > size) {
    throw new Stop({
      code: 'log_truncated',
      index: size,
      message: `the tree head counts ${head.size} leaves but storage holds ${size}: leaves from ${size} on were removed`,
    });
  }
  if (head.size < size) {
    throw new Stop({
      code: 'leaf_inserted',
      index: head.size,
      message: `storage holds ${size} leaves but the log appended ${head.size}: leaves from ${head.size} on were inserted`,
    });
  }
  if (!head.rootHash.equals(frontier.root())) {
    throw new Stop({
      code: 'state_mismatch',
      message: "the sequencer's tree head is not the root recomputed from the leaves",
    });
  }
}

/**
 * Paging stops at the first empty page past the end, so a row stored far beyond it (a forged
 * record that queries would list) is looked for with one indexed query.
 */
async function checkNothingPastEnd(audit: LedgerVerifyReads, size: number): Promise<void> {
  if (!audit.list) return;
  let extra: number | undefined;
  try {
    const [record] = await audit.list({ afterSeq: size, limit: 1 });
    extra = record === undefined ? undefined : record.seq - 1;
  } catch {
    extra = size; // a row there that does not even parse
  }
  if (extra === undefined) return;
  // Appended by a running gateway since the tree head was read: the next run verifies it.
  if ((await audit.treeHead()).size > extra) return;
  throw new Stop({
    code: 'leaf_inserted',
    index: extra,
    message: `a row with index ${extra} is stored past the end of the log (${size} leaves)`,
  });
}
