// An audit entry's inclusion in the ledger, checked end to end in the browser: the latest checkpoint
// is verified against the key the USER pinned (never one the server sends), then the leaf text is
// hashed here, the RFC 9162 proof is folded up to the checkpoint's root, and the leaf text is
// compared with the entry on screen so that a tampered row is flagged.
import { canonicalJson } from './canonical.js';
import { fromBase64, fromHex, equalBytes, toHex, utf8, type Subtle } from './bytes.js';
import { MerkleError, leafHash, verifyInclusion } from './merkle.js';
import { openCheckpoint, NoteVerifyError, type Checkpoint, type VerifierKey } from './note.js';

/** GET /v1/ledger/proof/inclusion (hashes in base64, leafHash in hex). */
export interface InclusionProofResponse {
  readonly index: number;
  readonly size: number;
  readonly leafHash: string;
  readonly leaf: string;
  readonly proof: readonly string[];
  readonly checkpoint?: string | null;
}

/** The row the page shows (from /v1/ledger/entries). */
export interface ShownEntry {
  readonly index: number;
  readonly storedAt: string;
  readonly entry: unknown;
}

export type ProofResult =
  | { readonly ok: true; readonly checkpoint: Checkpoint; readonly leafHash: string }
  | { readonly ok: false; readonly reason: string };

const fail = (reason: string): ProofResult => ({ ok: false, reason });

/**
 * Verifies that `shown` is leaf `shown.index` of the log whose latest signed checkpoint is
 * `checkpointNote`, using `proof` (fetched for that checkpoint's size). Never throws.
 */
export async function verifyEntryProof(
  subtle: Subtle,
  key: VerifierKey,
  checkpointNote: string,
  proof: InclusionProofResponse,
  shown: ShownEntry,
): Promise<ProofResult> {
  let checkpoint: Checkpoint;
  try {
    checkpoint = await openCheckpoint(subtle, checkpointNote, key);
  } catch (err) {
    return fail(`checkpoint: ${err instanceof NoteVerifyError ? err.message : 'could not be verified'}`);
  }
  if (shown.index >= checkpoint.size) {
    return fail(`entry ${shown.index} is not in the latest checkpoint (size ${checkpoint.size}) yet`);
  }
  if (proof.index !== shown.index) return fail('the proof is for another entry');
  if (proof.size !== checkpoint.size) return fail('the proof is for another tree size than the checkpoint');
  if (typeof proof.leaf !== 'string' || !Array.isArray(proof.proof)) return fail('malformed proof response');

  const leaf = await leafHash(subtle, utf8(proof.leaf));
  const stated = fromHex(proof.leafHash);
  if (stated === undefined || !equalBytes(stated, leaf)) {
    return fail('the leaf text does not hash to the stored leaf hash');
  }
  const path: Uint8Array[] = [];
  for (const element of proof.proof) {
    const bytes = typeof element === 'string' ? fromBase64(element) : undefined;
    if (bytes === undefined) return fail('a proof hash is not base64');
    path.push(bytes);
  }
  try {
    await verifyInclusion(subtle, leaf, shown.index, checkpoint.size, path, checkpoint.rootHash);
  } catch (err) {
    if (err instanceof MerkleError && err.code === 'root_mismatch') {
      return fail('the inclusion proof does not lead to the signed root');
    }
    return fail(`inclusion proof: ${err instanceof Error ? err.message : 'malformed'}`);
  }
  const mismatch = compareLeaf(proof.leaf, shown);
  if (mismatch) return fail(mismatch);
  return { ok: true, checkpoint, leafHash: toHex(leaf) };
}

/** Why the logged leaf text is not the entry shown, or undefined when it is. */
export function compareLeaf(leafText: string, shown: ShownEntry): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(leafText);
    if (canonicalJson(parsed) !== leafText) return 'the leaf text is not canonical JSON';
  } catch {
    return 'the leaf text is not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return 'the leaf is not an object';
  const leaf = parsed as Record<string, unknown>;
  if (Object.keys(leaf).sort().join(',') !== 'entry,index,storedAt') return 'the leaf has unexpected fields';
  if (leaf.index !== shown.index) return `the leaf names index ${String(leaf.index)}, not ${shown.index}`;
  if (leaf.storedAt !== shown.storedAt) return 'the storage time shown differs from the logged one';
  try {
    if (canonicalJson(leaf.entry) !== canonicalJson(shown.entry)) {
      return 'the entry shown differs from the logged entry (tampered row)';
    }
  } catch {
    return 'the entry shown is not JSON data';
  }
  return undefined;
}
