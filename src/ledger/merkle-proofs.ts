/**
 * RFC 9162 tree hashes and proofs generated over leaf hashes held in storage (§2.1.1, §2.1.3.1,
 * §2.1.4.1).
 *
 * Cost. Every hash these functions need is the root of a perfect subtree (2^level aligned leaves);
 * a proof has O(log n) elements and each element is at most O(log n) perfect subtrees.
 * - Without a NodeCache a perfect subtree is hashed from its leaves, so rootHash, inclusionProof and
 *   consistencyProof read O(n) leaves in the worst case (all of them, for the root). Give the source
 *   `leafHashes(start, end)` so that a database serves those reads in ranges rather than one by one.
 * - With a NodeCache that knows every perfect subtree, each function makes O(log² n) cache look-ups
 *   and reads no leaf beyond the ones at level 0 of the path. A cache that misses falls back to the
 *   two children, so a partial cache (say, levels ≥ 8 only) bounds the leaf reads per subtree.
 * A writer that only needs the current root should keep a MerkleFrontier instead (O(log n)).
 */
import {
  HASH_SIZE,
  MerkleFrontier,
  MerkleProofError,
  assertTreeIndex,
  emptyRoot,
  foldFromRight,
  largestPowerOfTwoBelow,
  nodeHash,
} from './merkle.js';

/** Read access to the leaf hashes of a log, synchronous (SQLite) or asynchronous (PostgreSQL). */
export interface LeafSource {
  /** Number of leaves the source holds; trees of any size up to this one can be hashed. */
  readonly size: number;
  /** The leaf hash at `index` (0 ≤ index < size). */
  leafHash(index: number): Buffer | Promise<Buffer>;
  /** Optional bulk read of the leaf hashes [start, end), in order: one query instead of end − start. */
  leafHashes?(start: number, end: number): readonly Buffer[] | Promise<readonly Buffer[]>;
}

/**
 * Returns the stored hash of the perfect subtree of 2^level leaves that starts at leaf
 * index·2^level, or undefined when storage does not have it. Only asked for level ≥ 1.
 */
export type NodeCache = (level: number, index: number) => Buffer | undefined | Promise<Buffer | undefined>;

export interface MerkleReadOptions {
  /** Stored interior hashes; without it, subtrees are hashed from their leaves. */
  readonly nodeCache?: NodeCache;
}

/** Leaves read per `leafHashes` call, to bound memory on large subtrees. */
const RANGE_READ_CHUNK = 4096;

/** MTH(D[0:size]) (RFC 9162 §2.1.1) of the first `size` leaves of the source. */
export async function rootHash(
  source: LeafSource,
  size: number,
  options: MerkleReadOptions = {},
): Promise<Buffer> {
  assertSizeWithinSource(source, size, 'size');
  if (size === 0) return emptyRoot();
  return new SubtreeHasher(source, options.nodeCache).rangeRoot(0, size);
}

/**
 * PATH(index, D[0:size]) (RFC 9162 §2.1.3.1): the inclusion proof of leaf `index` in the tree of
 * the first `size` leaves, from the leaf's sibling up to the root's child.
 */
export async function inclusionProof(
  source: LeafSource,
  index: number,
  size: number,
  options: MerkleReadOptions = {},
): Promise<Buffer[]> {
  assertSizeWithinSource(source, size, 'size');
  assertTreeIndex(index, 'index');
  if (index >= size) throw new MerkleProofError('index_out_of_range', `index ${index} ≥ size ${size}`);
  return inclusionPath(new SubtreeHasher(source, options.nodeCache), index, 0, size);
}

/**
 * PROOF(from, D[0:to]) (RFC 9162 §2.1.4.1): proves that the tree of the first `from` leaves is a
 * prefix of the tree of the first `to` leaves. Empty when from = to; refused when from = 0, since
 * every tree extends the empty one and the verifiers reject such a proof.
 */
export async function consistencyProof(
  source: LeafSource,
  from: number,
  to: number,
  options: MerkleReadOptions = {},
): Promise<Buffer[]> {
  assertSizeWithinSource(source, to, 'to');
  assertTreeIndex(from, 'from');
  if (from > to) throw new MerkleProofError('sizes_out_of_order', `from ${from} > to ${to}`);
  if (from === 0) throw new MerkleProofError('empty_tree_consistency', 'consistency from the empty tree');
  return subproof(new SubtreeHasher(source, options.nodeCache), from, 0, to, true);
}

/** PATH over leaves [start, end): a subtree of the RFC 9162 tree shape that contains `index`. */
async function inclusionPath(
  hasher: SubtreeHasher,
  index: number,
  start: number,
  end: number,
): Promise<Buffer[]> {
  if (end - start === 1) return [];
  const split = start + largestPowerOfTwoBelow(end - start);
  const [pathStart, pathEnd, siblingStart, siblingEnd] =
    index < split ? [start, split, split, end] : [split, end, start, split];
  const path = await inclusionPath(hasher, index, pathStart, pathEnd);
  path.push(await hasher.rangeRoot(siblingStart, siblingEnd));
  return path;
}

/**
 * SUBPROOF over leaves [start, end), with `boundary` the absolute end of the older tree
 * (start < boundary ≤ end). `olderRootKnown` is the RFC's flag b: true while the subtree
 * [start, boundary) is the whole older tree, whose root the verifier already holds.
 */
async function subproof(
  hasher: SubtreeHasher,
  boundary: number,
  start: number,
  end: number,
  olderRootKnown: boolean,
): Promise<Buffer[]> {
  if (boundary === end) return olderRootKnown ? [] : [await hasher.rangeRoot(start, end)];
  const split = start + largestPowerOfTwoBelow(end - start);
  if (boundary <= split) {
    const proof = await subproof(hasher, boundary, start, split, olderRootKnown);
    proof.push(await hasher.rangeRoot(split, end));
    return proof;
  }
  const proof = await subproof(hasher, boundary, split, end, false);
  proof.push(await hasher.rangeRoot(start, split));
  return proof;
}

/** Computes subtree roots from a source, asking the node cache first when there is one. */
class SubtreeHasher {
  constructor(
    private readonly source: LeafSource,
    private readonly nodeCache: NodeCache | undefined,
  ) {}

  /**
   * MTH(D[start:end]) for a range that is a subtree of the RFC 9162 tree shape: it splits into
   * aligned perfect subtrees of decreasing size.
   */
  async rangeRoot(start: number, end: number): Promise<Buffer> {
    const roots: Buffer[] = [];
    for (let offset = start; offset < end;) {
      const level = floorLog2(end - offset);
      const width = 2 ** level;
      roots.push(await this.perfectRoot(level, offset / width));
      offset += width;
    }
    return foldFromRight(roots);
  }

  private async perfectRoot(level: number, index: number): Promise<Buffer> {
    if (level === 0) return this.leaf(index);
    if (this.nodeCache === undefined) return this.hashLeaves(index * 2 ** level, (index + 1) * 2 ** level);
    const cached = await this.nodeCache(level, index);
    if (cached !== undefined) return checkedHash(cached, `cached node (${level}, ${index})`);
    const left = await this.perfectRoot(level - 1, 2 * index);
    const right = await this.perfectRoot(level - 1, 2 * index + 1);
    return nodeHash(left, right);
  }

  private async hashLeaves(start: number, end: number): Promise<Buffer> {
    const frontier = new MerkleFrontier();
    if (this.source.leafHashes === undefined) {
      for (let i = start; i < end; i += 1) frontier.append(await this.leaf(i));
      return frontier.root();
    }
    for (let from = start; from < end; from += RANGE_READ_CHUNK) {
      const to = Math.min(end, from + RANGE_READ_CHUNK);
      const hashes = await this.source.leafHashes(from, to);
      if (hashes.length !== to - from) {
        throw new MerkleProofError(
          'size_out_of_range',
          `source returned ${hashes.length} of ${to - from} leaves`,
        );
      }
      for (const hash of hashes) frontier.append(hash);
    }
    return frontier.root();
  }

  private async leaf(index: number): Promise<Buffer> {
    return checkedHash(await this.source.leafHash(index), `leaf ${index}`);
  }
}

/** ⌊log2 n⌋ for n ≥ 1, exact for every safe integer (Math.log2 rounds near 2^53). */
function floorLog2(n: number): number {
  let level = 0;
  while (2 ** (level + 1) <= n) level += 1;
  return level;
}

function checkedHash(hash: unknown, what: string): Buffer {
  if (!(hash instanceof Uint8Array) || hash.length !== HASH_SIZE) {
    throw new MerkleProofError('malformed_hash', `${what} is not a ${HASH_SIZE}-byte hash`);
  }
  return Buffer.isBuffer(hash) ? hash : Buffer.from(hash);
}

function assertSizeWithinSource(source: LeafSource, size: number, name: string): void {
  assertTreeIndex(size, name);
  if (size > source.size) {
    throw new MerkleProofError('size_out_of_range', `${name} ${size} > source size ${source.size}`);
  }
}
