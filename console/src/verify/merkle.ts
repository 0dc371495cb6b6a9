// RFC 9162 inclusion proof verification (§2.1.3.2) with WebCrypto: a port of
// src/ledger/merkle-verify.ts (same accept/reject rules as transparency-dev/merkle), async because
// crypto.subtle is. Index arithmetic is in BigInt, as there: a log may outgrow 2^31 entries.
import { concat, equalBytes, sha256, type Subtle } from './bytes.js';

export const HASH_SIZE = 32;

export type MerkleErrorCode =
  'invalid_argument' | 'index_out_of_range' | 'wrong_proof_length' | 'malformed_hash' | 'root_mismatch';

export class MerkleError extends Error {
  readonly code: MerkleErrorCode;

  constructor(code: MerkleErrorCode, message: string) {
    super(message);
    this.name = 'MerkleError';
    this.code = code;
  }
}

/** SHA-256(0x00 ‖ leaf). */
export function leafHash(subtle: Subtle, leaf: Uint8Array): Promise<Uint8Array> {
  return sha256(subtle, concat(Uint8Array.of(0), leaf));
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(subtle: Subtle, left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
  return sha256(subtle, concat(Uint8Array.of(1), left, right));
}

/** The root that `proof` implies for `leaf` at `index` in a tree of `size` leaves; throws MerkleError. */
export async function rootFromInclusionProof(
  subtle: Subtle,
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Promise<Uint8Array> {
  const length = inclusionProofLength(index, size);
  assertHash(leaf, 'leaf hash');
  if (!Array.isArray(proof)) throw new MerkleError('invalid_argument', 'proof must be an array');
  if (proof.length !== length) throw wrongLength();
  proof.forEach((p, i) => assertHash(p, `proof[${i}]`));

  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw wrongLength();
    if (isOdd(fn) || fn === sn) {
      r = await nodeHash(subtle, p, r);
      while (!isOdd(fn) && fn !== 0n) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else {
      r = await nodeHash(subtle, r, p);
    }
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  if (sn !== 0n) throw wrongLength();
  return r;
}

/** Throws MerkleError unless `proof` proves `leaf` is leaf `index` of the tree (`size`, `root`). */
export async function verifyInclusion(
  subtle: Subtle,
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): Promise<void> {
  const computed = await rootFromInclusionProof(subtle, leaf, index, size, proof);
  if (!(root instanceof Uint8Array)) throw new MerkleError('invalid_argument', 'root must be bytes');
  if (!equalBytes(computed, root)) throw new MerkleError('root_mismatch', 'inclusion proof root mismatch');
}

/** Number of hashes in the inclusion proof of leaf `index` in a tree of `size` leaves. */
export function inclusionProofLength(index: number, size: number): number {
  assertTreeIndex(index, 'index');
  assertTreeIndex(size, 'size');
  if (index >= size) throw new MerkleError('index_out_of_range', `index ${index} ≥ size ${size}`);
  const i = BigInt(index);
  const inner = bitLength(i ^ (BigInt(size) - 1n));
  return inner + popCount(i >> BigInt(inner));
}

function assertTreeIndex(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new MerkleError('invalid_argument', `${name} must be a non-negative safe integer`);
  }
}

function assertHash(value: unknown, name: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new MerkleError('invalid_argument', `${name} must be bytes`);
  if (value.length !== HASH_SIZE)
    throw new MerkleError('malformed_hash', `${name} is not ${HASH_SIZE} bytes`);
}

function wrongLength(): MerkleError {
  return new MerkleError('wrong_proof_length', 'the proof has the wrong number of hashes');
}

function isOdd(n: bigint): boolean {
  return (n & 1n) === 1n;
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function popCount(n: bigint): number {
  return n.toString(2).replaceAll('0', '').length;
}
