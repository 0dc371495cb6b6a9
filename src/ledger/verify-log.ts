// STUB (being written by a helper): the contract other modules code against.
import type { AuditRepository } from '../store/index.js';
import type { NoteVerifier } from './note.js';

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

export interface LedgerProblem {
  /** Stable code, for example `leaf_modified`, `leaf_missing`, `leaf_out_of_order`, `checkpoint_mismatch`. */
  readonly code: string;
  /** The first leaf index known to be bad, when it can be named. */
  readonly index?: number;
  readonly message: string;
}

export interface LedgerVerifyReport {
  readonly ok: boolean;
  /** Leaves in storage. */
  readonly size: number;
  /** Checkpoints verified (stored and external). */
  readonly checkpoints: number;
  /** Size of the largest checkpoint that verified and matched. */
  readonly coveredSize: number;
  readonly problem?: LedgerProblem;
}

export async function verifyLedger(
  _audit: Pick<AuditRepository, 'leaves' | 'treeHead' | 'checkpoints' | 'count'>,
  _options: LedgerVerifyOptions,
): Promise<LedgerVerifyReport> {
  throw new Error('not implemented yet');
}
