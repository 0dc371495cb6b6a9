/**
 * Verification of RFC 9162 inclusion (§2.1.3.2) and consistency (§2.1.4.2) proofs: pure, sync, and
 * fit for hostile input. Each function either returns or throws a MerkleProofError with a stable
 * code; nothing else escapes, whatever the arguments' types.
 *
 * The accept/reject rules follow transparency-dev/merkle's `proof` package and its test vectors:
 * index ≥ size, size1 > size2, a proof of the wrong length, and any consistency proof from the
 * empty tree (size1 = 0, even to size2 = 0) are rejected.
 *
 * Index arithmetic is done in BigInt: JavaScript's bitwise operators truncate to 32 bits, and a
 * log may outgrow 2^31 entries.
 */
import { HASH_SIZE, MerkleProofError, assertTreeIndex, nodeHash } from './merkle.js';

/** Throws MerkleProofError unless `proof` proves `leafHash` is leaf `index` of the tree (`size`, `root`). */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  const computed = rootFromInclusionProof(leafHash, index, size, proof);
  assertBytes(root, 'root');
  if (!sameBytes(computed, root)) {
    throw new MerkleProofError('root_mismatch', 'inclusion proof root mismatch');
  }
}

/**
 * The root that an inclusion proof implies for `leafHash` at `index` in a tree of `size` leaves
 * (RFC 9162 §2.1.3.2, without the final comparison). Throws MerkleProofError for a malformed proof.
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Buffer {
  const length = inclusionProofLength(index, size);
  assertHash(leafHash, 'leaf hash');
  const path = checkedProof(proof, length);

  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r: Buffer = Buffer.from(leafHash);
  for (const p of path) {
    if (sn === 0n) throw wrongLength();
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // The last node of its level has no right sibling: climb to where it is a right child.
      while (!isOdd(fn) && fn !== 0n) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  if (sn !== 0n) throw wrongLength();
  return r;
}

/**
 * Throws MerkleProofError unless `proof` proves that the tree (`size1`, `root1`) is a prefix of the
 * tree (`size2`, `root2`).
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  const computed = rootFromConsistencyProof(size1, size2, proof, root1);
  assertBytes(root2, 'root2');
  if (!sameBytes(computed, root2)) {
    throw new MerkleProofError('root_mismatch', 'consistency proof root2 mismatch');
  }
}

/**
 * Checks the proof against `root1` and returns the root it implies for the tree of `size2` leaves
 * (RFC 9162 §2.1.4.2, without the final comparison with second_hash).
 */
export function rootFromConsistencyProof(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
): Buffer {
  const length = consistencyProofLength(size1, size2);
  assertBytes(root1, 'root1');
  const path = checkedProof(proof, length);
  if (size1 === size2) return Buffer.from(root1);

  // The older root is the first node of the path only when it is a perfect subtree.
  const nodes = isPowerOfTwo(size1) ? [Buffer.from(root1), ...path] : path;
  let fn = BigInt(size1 - 1);
  let sn = BigInt(size2 - 1);
  while (isOdd(fn)) [fn, sn] = [fn >> 1n, sn >> 1n];
  let fr = nodes[0] as Buffer;
  let sr = fr;
  for (const c of nodes.slice(1)) {
    if (sn === 0n) throw wrongLength();
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0n) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  if (sn !== 0n) throw wrongLength();
  if (!sameBytes(fr, root1)) throw new MerkleProofError('root_mismatch', 'consistency proof root1 mismatch');
  return sr;
}

/** Number of hashes in the inclusion proof of leaf `index` in a tree of `size` leaves. */
export function inclusionProofLength(index: number, size: number): number {
  assertTreeIndex(index, 'index');
  assertTreeIndex(size, 'size');
  if (index >= size) throw new MerkleProofError('index_out_of_range', `index ${index} ≥ size ${size}`);
  const { inner, border } = decomposeInclusion(BigInt(index), BigInt(size));
  return inner + border;
}

/** Number of hashes in the consistency proof from `size1` to `size2` leaves (0 < size1 ≤ size2). */
export function consistencyProofLength(size1: number, size2: number): number {
  assertTreeIndex(size1, 'size1');
  assertTreeIndex(size2, 'size2');
  if (size1 > size2) throw new MerkleProofError('sizes_out_of_order', `size1 ${size1} > size2 ${size2}`);
  if (size1 === 0) throw new MerkleProofError('empty_tree_consistency', 'consistency from the empty tree');
  if (size1 === size2) return 0;
  const { inner, border } = decomposeInclusion(BigInt(size1 - 1), BigInt(size2));
  const shift = trailingZeros(BigInt(size1));
  const olderRootInProof = isPowerOfTwo(size1) ? 0 : 1;
  return olderRootInProof + inner - shift + border;
}

/**
 * Splits the inclusion path of leaf `index` at the node where it leaves the path of the last leaf:
 * `inner` hashes below that node, `border` hashes of left siblings along the right border above it.
 */
function decomposeInclusion(index: bigint, size: bigint): { inner: number; border: number } {
  const inner = bitLength(index ^ (size - 1n));
  return { inner, border: popCount(index >> BigInt(inner)) };
}

/** Checks the proof's shape before any hashing: a list of exactly `length` HASH_SIZE-byte arrays. */
function checkedProof(proof: unknown, length: number): Buffer[] {
  // null is how Go's JSON writes an empty proof; accept it as one.
  const elements: unknown = proof ?? [];
  if (!Array.isArray(elements)) throw new MerkleProofError('invalid_argument', 'proof must be an array');
  if (elements.length !== length) throw wrongLength();
  return elements.map((element: unknown, i) => {
    assertHash(element, `proof[${i}]`);
    return Buffer.from(element);
  });
}

function assertHash(value: unknown, name: string): asserts value is Uint8Array {
  assertBytes(value, name);
  if (value.length !== HASH_SIZE)
    throw new MerkleProofError('malformed_hash', `${name} is not ${HASH_SIZE} bytes`);
}

function assertBytes(value: unknown, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new MerkleProofError('invalid_argument', `${name} must be bytes`);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function wrongLength(): MerkleProofError {
  return new MerkleProofError('wrong_proof_length', 'the proof has the wrong number of hashes');
}

function isOdd(n: bigint): boolean {
  return (n & 1n) === 1n;
}

function isPowerOfTwo(n: number): boolean {
  const big = BigInt(n);
  return big > 0n && (big & (big - 1n)) === 0n;
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function popCount(n: bigint): number {
  return n.toString(2).replaceAll('0', '').length;
}

function trailingZeros(n: bigint): number {
  const bits = n.toString(2);
  return bits.length - 1 - bits.lastIndexOf('1');
}
