import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  MerkleFrontier,
  MerkleProofError,
  emptyRoot,
  leafHash,
  nodeHash,
} from '../../../src/ledger/merkle.js';
import type { CompletedNode } from '../../../src/ledger/merkle.js';
import { consistencyProof, inclusionProof, rootHash } from '../../../src/ledger/merkle-proofs.js';
import type { LeafSource, NodeCache } from '../../../src/ledger/merkle-proofs.js';
import {
  consistencyProofLength,
  inclusionProofLength,
  rootFromConsistencyProof,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from '../../../src/ledger/merkle-verify.js';

const MAX_ROOT_SIZE = 64;
const MAX_PROOF_SIZE = 33;

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** MTH(D[n]) written straight from RFC 9162 §2.1.1, independently of the code under test. */
function referenceRoot(entries: readonly Buffer[]): Buffer {
  if (entries.length === 0) return sha256();
  if (entries.length === 1) return sha256(Buffer.from([0]), entries[0] as Buffer);
  let k = 1;
  while (k * 2 < entries.length) k *= 2;
  return sha256(Buffer.from([1]), referenceRoot(entries.slice(0, k)), referenceRoot(entries.slice(k)));
}

const ENTRIES = Array.from({ length: MAX_ROOT_SIZE }, (_, i) => Buffer.from(`entry ${i}`));
const LEAVES = ENTRIES.map((entry) => leafHash(entry));
const REFERENCE_ROOTS = Array.from({ length: MAX_ROOT_SIZE + 1 }, (_, n) =>
  referenceRoot(ENTRIES.slice(0, n)),
);

/** Counts reads so that tests can check what a proof costs. */
function countingSource(leaves: readonly Buffer[], withRanges = false) {
  const reads = { single: 0, ranges: 0 };
  const source: LeafSource = {
    size: leaves.length,
    leafHash: (i) => {
      reads.single += 1;
      return leaves[i] as Buffer;
    },
  };
  if (withRanges) {
    source.leafHashes = async (start, end) => {
      reads.ranges += 1;
      return leaves.slice(start, end);
    };
  }
  return { source, reads };
}

const asyncSource: LeafSource = { size: LEAVES.length, leafHash: async (i) => LEAVES[i] as Buffer };

/** A NodeCache holding every perfect subtree that a frontier completed while the leaves went in. */
function fullNodeCache(leaves: readonly Buffer[]): { cache: NodeCache; lookups: () => number } {
  const stored = new Map<string, Buffer>();
  const frontier = new MerkleFrontier();
  for (const leaf of leaves) {
    for (const node of frontier.append(leaf)) stored.set(`${node.level}/${node.index}`, node.hash);
  }
  let lookups = 0;
  const cache: NodeCache = (level, index) => {
    lookups += 1;
    return stored.get(`${level}/${index}`);
  };
  return { cache, lookups: () => lookups };
}

function assertRejects(check: () => unknown, message: string, code?: string): void {
  assert.throws(check, (err: unknown) => {
    assert.ok(err instanceof MerkleProofError, `${message}: threw ${String(err)}`);
    if (code !== undefined) assert.equal(err.code, code, message);
    return true;
  });
}

function flipBit(proof: readonly Buffer[], element: number, bit: number): Buffer[] {
  return proof.map((hash, i) => {
    if (i !== element) return hash;
    const copy = Buffer.from(hash);
    copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
    return copy;
  });
}

const SOME_HASH = sha256(Buffer.from('not in the tree'));
const BITS_TO_FLIP = [0, 7, 100, 255];

describe('Merkle hashing', () => {
  it('domain-separates leaves and nodes as RFC 9162 prescribes', () => {
    assert.equal(
      emptyRoot().toString('hex'),
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    assert.deepEqual(leafHash(Buffer.from('x')), sha256(Buffer.from([0]), Buffer.from('x')));
    assert.deepEqual(
      nodeHash(LEAVES[0] as Buffer, LEAVES[1] as Buffer),
      sha256(Buffer.from([1]), LEAVES[0] as Buffer, LEAVES[1] as Buffer),
    );
  });

  it(`computes the same root three ways for every size 0..${MAX_ROOT_SIZE}`, async () => {
    const frontier = new MerkleFrontier();
    const cached = fullNodeCache(LEAVES);
    for (let n = 0; n <= MAX_ROOT_SIZE; n += 1) {
      if (n > 0) frontier.append(LEAVES[n - 1] as Buffer);
      const expected = REFERENCE_ROOTS[n] as Buffer;
      assert.deepEqual(frontier.root(), expected, `frontier, size ${n}`);
      assert.deepEqual(await rootHash(countingSource(LEAVES).source, n), expected, `sync source, size ${n}`);
      assert.deepEqual(await rootHash(asyncSource, n), expected, `async source, size ${n}`);
      const ranged = countingSource(LEAVES, true);
      assert.deepEqual(await rootHash(ranged.source, n), expected, `ranged source, size ${n}`);
      // Only a lone last leaf (odd n) is read on its own; perfect subtrees are read as ranges.
      assert.ok(
        ranged.reads.single <= n % 2,
        `ranged source, size ${n}: ${ranged.reads.single} single reads`,
      );
      const options = { nodeCache: cached.cache };
      assert.deepEqual(
        await rootHash(countingSource(LEAVES).source, n, options),
        expected,
        `cache, size ${n}`,
      );
    }
  });
});

describe('MerkleFrontier', () => {
  it('reports each perfect subtree it completes, with its true hash', () => {
    const frontier = new MerkleFrontier();
    const completed: CompletedNode[] = [];
    for (const leaf of LEAVES.slice(0, 8)) completed.push(...frontier.append(leaf));
    assert.deepEqual(
      completed.map(({ level, index }) => `${level}/${index}`),
      ['1/0', '1/1', '2/0', '1/2', '1/3', '2/1', '3/0'],
    );
    assert.deepEqual(completed.at(-1)?.hash, REFERENCE_ROOTS[8]);
    assert.deepEqual(completed[5]?.hash, referenceRoot(ENTRIES.slice(4, 8)));
  });

  it('restores from its saved nodes and keeps growing', () => {
    const frontier = new MerkleFrontier();
    for (const leaf of LEAVES.slice(0, 21)) frontier.append(leaf);
    const restored = MerkleFrontier.fromNodes(frontier.size, frontier.nodes());
    for (const leaf of LEAVES.slice(21, 40)) restored.append(leaf);
    assert.equal(restored.size, 40);
    assert.deepEqual(restored.root(), REFERENCE_ROOTS[40]);
  });

  it('refuses a malformed leaf hash or saved state', () => {
    assertRejects(() => new MerkleFrontier().append(Buffer.alloc(31)), 'short hash', 'malformed_hash');
    assertRejects(() => MerkleFrontier.fromNodes(3, [SOME_HASH]), 'node count', 'invalid_argument');
    assertRejects(() => MerkleFrontier.fromNodes(-1, []), 'negative size', 'invalid_argument');
  });
});

describe('inclusion proofs', () => {
  it(`verify for every leaf of every tree up to ${MAX_PROOF_SIZE}, with or without a node cache`, async () => {
    const cached = fullNodeCache(LEAVES.slice(0, MAX_PROOF_SIZE));
    for (let size = 1; size <= MAX_PROOF_SIZE; size += 1) {
      const root = REFERENCE_ROOTS[size] as Buffer;
      for (let index = 0; index < size; index += 1) {
        const proof = await inclusionProof(asyncSource, index, size);
        assert.equal(proof.length, inclusionProofLength(index, size));
        verifyInclusion(LEAVES[index] as Buffer, index, size, proof, root);
        assert.deepEqual(rootFromInclusionProof(LEAVES[index] as Buffer, index, size, proof), root);
        const source = countingSource(LEAVES).source;
        assert.deepEqual(await inclusionProof(source, index, size, { nodeCache: cached.cache }), proof);
      }
    }
  });

  it('reject a flipped bit, a wrong index or size, a truncated or extended proof', async () => {
    for (let size = 1; size <= MAX_PROOF_SIZE; size += 1) {
      for (let index = 0; index < size; index += 1) {
        const leaf = LEAVES[index] as Buffer;
        const root = REFERENCE_ROOTS[size] as Buffer;
        const proof = await inclusionProof(asyncSource, index, size);
        const at = `leaf ${index} of ${size}`;
        for (let element = 0; element < proof.length; element += 1) {
          for (const bit of BITS_TO_FLIP) {
            const flipped = flipBit(proof, element, bit);
            assertRejects(
              () => verifyInclusion(leaf, index, size, flipped, root),
              `${at}: bit ${bit} of [${element}]`,
            );
          }
        }
        for (let other = 0; other < size + 2; other += 1) {
          if (other === index) continue;
          assertRejects(
            () => verifyInclusion(leaf, other, size, proof, root),
            `${at}: claimed index ${other}`,
          );
        }
        // Against the true root of the claimed size: the attack a signed tree head must defeat.
        for (const other of [size - 1, size + 1, size * 2, Math.floor(size / 2)]) {
          if (other === size || other > MAX_ROOT_SIZE) continue;
          const otherRoot = REFERENCE_ROOTS[other] as Buffer;
          assertRejects(
            () => verifyInclusion(leaf, index, other, proof, otherRoot),
            `${at}: claimed size ${other}`,
          );
        }
        if (proof.length > 0) {
          assertRejects(
            () => verifyInclusion(leaf, index, size, proof.slice(0, -1), root),
            `${at}: truncated`,
          );
          assertRejects(
            () => verifyInclusion(leaf, index, size, proof.slice(1), root),
            `${at}: first removed`,
          );
        }
        assertRejects(
          () => verifyInclusion(leaf, index, size, [...proof, SOME_HASH], root),
          `${at}: extended`,
        );
        assertRejects(
          () => verifyInclusion(leaf, index, size, [SOME_HASH, ...proof], root),
          `${at}: prefixed`,
        );
        assertRejects(() => verifyInclusion(SOME_HASH, index, size, proof, root), `${at}: other leaf`);
      }
    }
  });

  it('read O(log n) cached nodes and almost no leaves with a full node cache', async () => {
    const size = MAX_ROOT_SIZE - 1;
    const cached = fullNodeCache(LEAVES.slice(0, size));
    for (const index of [0, 31, 62]) {
      const { source, reads } = countingSource(LEAVES);
      const before = cached.lookups();
      const proof = await inclusionProof(source, index, size, { nodeCache: cached.cache });
      verifyInclusion(LEAVES[index] as Buffer, index, size, proof, REFERENCE_ROOTS[size] as Buffer);
      assert.ok(reads.single <= 2, `index ${index}: ${reads.single} leaf reads`);
      assert.ok(cached.lookups() - before <= 6 * 6, `index ${index}: ${cached.lookups() - before} look-ups`);
    }
  });

  it('refuse to generate a proof outside the tree', async () => {
    const { source } = countingSource(LEAVES.slice(0, 5));
    await assert.rejects(inclusionProof(source, 5, 5), { code: 'index_out_of_range' });
    await assert.rejects(inclusionProof(source, 0, 6), { code: 'size_out_of_range' });
    await assert.rejects(inclusionProof(source, -1, 5), { code: 'invalid_argument' });
    await assert.rejects(rootHash(source, 1.5), { code: 'invalid_argument' });
  });
});

describe('consistency proofs', () => {
  it(`verify for every pair of sizes up to ${MAX_PROOF_SIZE}, with or without a node cache`, async () => {
    const cached = fullNodeCache(LEAVES.slice(0, MAX_PROOF_SIZE));
    for (let size2 = 1; size2 <= MAX_PROOF_SIZE; size2 += 1) {
      for (let size1 = 1; size1 <= size2; size1 += 1) {
        const [root1, root2] = [REFERENCE_ROOTS[size1] as Buffer, REFERENCE_ROOTS[size2] as Buffer];
        const proof = await consistencyProof(asyncSource, size1, size2);
        assert.equal(proof.length, consistencyProofLength(size1, size2));
        verifyConsistency(size1, size2, proof, root1, root2);
        assert.deepEqual(rootFromConsistencyProof(size1, size2, proof, root1), root2);
        const source = countingSource(LEAVES).source;
        assert.deepEqual(await consistencyProof(source, size1, size2, { nodeCache: cached.cache }), proof);
      }
    }
  });

  it('reject a flipped bit, wrong sizes or roots, a truncated or extended proof', async () => {
    for (let size2 = 2; size2 <= MAX_PROOF_SIZE; size2 += 1) {
      for (let size1 = 1; size1 < size2; size1 += 1) {
        const [root1, root2] = [REFERENCE_ROOTS[size1] as Buffer, REFERENCE_ROOTS[size2] as Buffer];
        const proof = await consistencyProof(asyncSource, size1, size2);
        const at = `${size1} → ${size2}`;
        const verify =
          (s1: number, s2: number, p: Buffer[], r1 = root1, r2 = root2) =>
          () =>
            verifyConsistency(s1, s2, p, r1, r2);
        for (let element = 0; element < proof.length; element += 1) {
          for (const bit of BITS_TO_FLIP) {
            assertRejects(
              verify(size1, size2, flipBit(proof, element, bit)),
              `${at}: bit ${bit} of [${element}]`,
            );
          }
        }
        // Other sizes, each with its true root.
        for (const [s1, s2] of [
          [size1 - 1, size2],
          [size1 + 1, size2],
          [size1, size2 - 1],
          [size1, size2 + 1],
          [size1, size2 * 2],
        ] as const) {
          if ((s1 === size1 && s2 === size2) || s2 > MAX_ROOT_SIZE || s1 < 0) continue;
          const claimed = verify(s1, s2, proof, REFERENCE_ROOTS[s1], REFERENCE_ROOTS[s2]);
          assertRejects(claimed, `${at}: claimed ${s1} → ${s2}`);
        }
        assertRejects(verify(size1, size2, proof, root2, root1), `${at}: swapped roots`);
        assertRejects(verify(size1, size2, proof, SOME_HASH), `${at}: wrong root1`);
        assertRejects(verify(size1, size2, proof, root1, SOME_HASH), `${at}: wrong root2`);
        assertRejects(verify(size1, size2, proof.slice(0, -1)), `${at}: truncated`);
        assertRejects(verify(size1, size2, proof.slice(1)), `${at}: first removed`);
        assertRejects(verify(size1, size2, [...proof, SOME_HASH]), `${at}: extended`);
        assertRejects(verify(size1, size2, [SOME_HASH, ...proof]), `${at}: prefixed`);
      }
    }
  });

  it('treat equal sizes as needing no proof and refuse the empty tree', async () => {
    const { source } = countingSource(LEAVES.slice(0, 5));
    assert.deepEqual(await consistencyProof(source, 5, 5), []);
    const root5 = REFERENCE_ROOTS[5] as Buffer;
    verifyConsistency(5, 5, [], root5, root5);
    assertRejects(
      () => verifyConsistency(5, 5, [SOME_HASH], root5, root5),
      'equal, proof',
      'wrong_proof_length',
    );
    assertRejects(
      () => verifyConsistency(5, 5, [], root5, SOME_HASH),
      'equal, roots differ',
      'root_mismatch',
    );
    assertRejects(
      () => verifyConsistency(0, 5, [], emptyRoot(), root5),
      'from empty',
      'empty_tree_consistency',
    );
    assertRejects(
      () => verifyConsistency(0, 0, [], emptyRoot(), emptyRoot()),
      'both empty',
      'empty_tree_consistency',
    );
    assertRejects(() => verifyConsistency(6, 5, [], root5, root5), 'backwards', 'sizes_out_of_order');
    await assert.rejects(consistencyProof(source, 0, 5), { code: 'empty_tree_consistency' });
    await assert.rejects(consistencyProof(source, 4, 3), { code: 'sizes_out_of_order' });
    await assert.rejects(consistencyProof(source, 4, 6), { code: 'size_out_of_range' });
  });
});

describe('verifiers on hostile input', () => {
  const anyArg = fc.oneof(
    fc.anything(),
    fc.integer({ min: -2, max: 70 }),
    fc.double(),
    fc.array(fc.uint8Array({ minLength: 0, maxLength: 33 }), { maxLength: 8 }),
    fc.uint8Array({ minLength: 31, maxLength: 33 }),
  );
  type Verifier = (...args: unknown[]) => unknown;
  const verifiers = {
    verifyInclusion,
    verifyConsistency,
    rootFromInclusionProof,
    rootFromConsistencyProof,
    inclusionProofLength,
    consistencyProofLength,
  };

  for (const [name, verifier] of Object.entries(verifiers)) {
    it(`${name} returns or throws a MerkleProofError, never anything else`, () => {
      fc.assert(
        fc.property(fc.array(anyArg, { minLength: 5, maxLength: 5 }), (args) => {
          try {
            (verifier as Verifier)(...args);
          } catch (err) {
            assert.ok(err instanceof MerkleProofError, String(err));
          }
        }),
        { numRuns: 2000 },
      );
    });
  }

  it('accepts a 2^40-leaf index without 32-bit truncation', () => {
    const size = 2 ** 40 + 3;
    const index = 2 ** 40 + 1;
    const proof = Array.from({ length: inclusionProofLength(index, size) }, (_, i) =>
      sha256(Buffer.from([i])),
    );
    const root = rootFromInclusionProof(SOME_HASH, index, size, proof);
    verifyInclusion(SOME_HASH, index, size, proof, root);
    assertRejects(() => verifyInclusion(SOME_HASH, index - 2 ** 32, size, proof, root), 'truncated index');
  });
});
