/**
 * RFC 9162 (Certificate Transparency v2) Merkle tree hashing, the shared error type of the Merkle
 * code, and MerkleFrontier: the compact right edge of a growing log.
 *
 * Proof generation lives in merkle-proofs.ts, proof verification in merkle-verify.ts.
 * INVARIANT: leaf and node hashes are domain-separated (0x00 / 0x01 prefixes, RFC 9162 §2.1.1), so
 * that no interior node can be passed off as a leaf (second-preimage attack on the tree).
 */
import { createHash } from 'node:crypto';

/** Size in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** MTH({d(0)}) = SHA-256(0x00 ‖ entry): the hash of one log entry. */
export function leafHash(entry: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(entry).digest();
}

/** SHA-256(0x01 ‖ left ‖ right): the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** MTH({}) = SHA-256 of the empty string: the root of the empty tree. */
export function emptyRoot(): Buffer {
  return createHash('sha256').digest();
}

export type MerkleProofErrorCode =
  /** An index or size is not a non-negative safe integer, or a proof is not a list of byte arrays. */
  | 'invalid_argument'
  /** The leaf index is not below the tree size. */
  | 'index_out_of_range'
  /** The tree size is larger than the leaves the source holds (proof generation only). */
  | 'size_out_of_range'
  /** The first tree size of a consistency proof is larger than the second. */
  | 'sizes_out_of_order'
  /** A consistency proof from the empty tree was asked for: it proves nothing and is refused. */
  | 'empty_tree_consistency'
  /** A leaf hash or proof element is not HASH_SIZE bytes long. */
  | 'malformed_hash'
  /** The proof has more or fewer elements than the index and sizes call for. */
  | 'wrong_proof_length'
  /** The root computed from the proof is not the root that was given. */
  | 'root_mismatch';

/**
 * Thrown by every Merkle function for bad arguments and by every verifier for a proof that does not
 * hold. Verifiers throw nothing else, whatever the input.
 */
export class MerkleProofError extends Error {
  readonly code: MerkleProofErrorCode;

  constructor(code: MerkleProofErrorCode, message: string) {
    super(message);
    this.name = 'MerkleProofError';
    this.code = code;
  }
}

/** Throws unless `value` is a non-negative safe integer (tree sizes and indices). */
export function assertTreeIndex(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new MerkleProofError('invalid_argument', `${name} must be a non-negative safe integer`);
  }
}

/** The largest power of two strictly below n (n ≥ 2): the split point k of RFC 9162 §2.1.1. */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** A perfect subtree that MerkleFrontier completed: 2^level leaves starting at leaf index·2^level. */
export interface CompletedNode {
  readonly level: number;
  readonly index: number;
  readonly hash: Buffer;
}

/**
 * The compact range [0, size) of a log: the roots of the perfect subtrees that the binary digits of
 * `size` describe, largest (leftmost) first. It is all the state needed to append and to compute the
 * current root, so a writer keeps it in memory instead of re-reading the log.
 *
 * append() is O(1) amortised (O(log n) worst case) hashes; root() is O(log n) hashes.
 */
export class MerkleFrontier {
  #size = 0;
  readonly #nodes: Buffer[] = [];

  /** Restores a frontier saved with `nodes()` (for example after a restart). */
  static fromNodes(size: number, nodes: readonly Uint8Array[]): MerkleFrontier {
    assertTreeIndex(size, 'size');
    if (nodes.length !== popCount(size)) {
      throw new MerkleProofError(
        'invalid_argument',
        `a frontier of size ${size} has ${popCount(size)} nodes`,
      );
    }
    const frontier = new MerkleFrontier();
    for (const node of nodes) {
      if (node.length !== HASH_SIZE) throw new MerkleProofError('malformed_hash', 'frontier node size');
      frontier.#nodes.push(Buffer.from(node));
    }
    frontier.#size = size;
    return frontier;
  }

  /** Number of leaves appended. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends one leaf hash. Returns the perfect subtrees (level ≥ 1) that this leaf completed, lowest
   * first, so that storage can persist them and serve them back through a NodeCache.
   */
  append(hash: Uint8Array): CompletedNode[] {
    if (hash.length !== HASH_SIZE) throw new MerkleProofError('malformed_hash', 'leaf hash size');
    const completed: CompletedNode[] = [];
    let merged: Buffer = Buffer.from(hash);
    let index = this.#size;
    let level = 0;
    // Each trailing 1-bit of the old size is a left sibling waiting for this leaf's subtree.
    while (index % 2 === 1) {
      merged = nodeHash(this.#nodes.pop() as Buffer, merged);
      index = (index - 1) / 2;
      level += 1;
      completed.push({ level, index, hash: merged });
    }
    this.#nodes.push(merged);
    this.#size += 1;
    return completed;
  }

  /** The RFC 9162 root of the leaves appended so far (emptyRoot() when none). */
  root(): Buffer {
    if (this.#nodes.length === 0) return emptyRoot();
    return foldFromRight(this.#nodes);
  }

  /** The frontier's subtree roots, largest first: with `size`, enough to restore it. */
  nodes(): Buffer[] {
    return this.#nodes.map((node) => Buffer.from(node));
  }
}

/**
 * Hash of consecutive perfect subtrees of decreasing size: H(n0, H(n1, … H(n[k-2], n[k-1]))).
 * That is how RFC 9162's left-balanced tree combines them.
 */
export function foldFromRight(nodes: readonly Buffer[]): Buffer {
  let hash = nodes[nodes.length - 1] as Buffer;
  for (let i = nodes.length - 2; i >= 0; i -= 1) hash = nodeHash(nodes[i] as Buffer, hash);
  return hash;
}

function popCount(n: number): number {
  let count = 0;
  for (let rest = n; rest > 0; rest = Math.floor(rest / 2)) count += rest % 2;
  return count;
}
