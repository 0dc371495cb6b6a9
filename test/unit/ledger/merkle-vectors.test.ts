import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { jsonFiles } from '../../helpers/json-files.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { MerkleProofError, leafHash } from '../../../src/ledger/merkle.js';
import { consistencyProof, inclusionProof, rootHash } from '../../../src/ledger/merkle-proofs.js';
import type { LeafSource } from '../../../src/ledger/merkle-proofs.js';
import {
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from '../../../src/ledger/merkle-verify.js';

// transparency-dev/merkle testdata (see test/fixtures/merkle/SOURCE.md). Go writes []byte as base64
// and an empty proof as null.
const FIXTURES = fileURLToPath(new URL('../../fixtures/merkle/', import.meta.url));

/** Totals of the copied vector files; the test fails if any goes unread. */
const EXPECTED = {
  inclusion: { accepted: 6, rejected: 92 },
  consistency: { accepted: 6, rejected: 92 },
};

/** The leaves the vectors' trees are built from (transparency-dev/merkle proof/verify_test.go). */
const REFERENCE_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((hex) => leafHash(Buffer.from(hex, 'hex')));

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface Loaded<T> {
  file: string;
  vector: T;
}

function load<T>(kind: 'inclusion' | 'consistency'): Loaded<T>[] {
  return jsonFiles(join(FIXTURES, kind)).map((file) => ({
    file: file.slice(FIXTURES.length),
    vector: JSON.parse(readFileSync(file, 'utf8')) as T,
  }));
}

const b64 = (text: string): Buffer => Buffer.from(text, 'base64');
const proofOf = (proof: string[] | null): Buffer[] => (proof ?? []).map(b64);

const referenceSource: LeafSource = {
  size: REFERENCE_LEAVES.length,
  leafHash: (i) => REFERENCE_LEAVES[i] as Buffer,
};

/** Runs `check` and says whether it was rejected; anything but a MerkleProofError fails the test. */
function rejected(file: string, check: () => void): boolean {
  try {
    check();
    return false;
  } catch (err) {
    assert.ok(err instanceof MerkleProofError, `${file}: threw ${String(err)} instead of a MerkleProofError`);
    return true;
  }
}

/** True for the numbered folders, whose vectors are proofs in the tree of REFERENCE_LEAVES. */
const fromReferenceTree = (file: string): boolean => /^(inclusion|consistency)\/\d+\//.test(file);

describe('transparency-dev/merkle inclusion vectors', () => {
  const vectors = load<InclusionVector>('inclusion');

  it('verifies every happy-path vector and rejects every broken one', () => {
    const counts = { accepted: 0, rejected: 0 };
    for (const { file, vector: v } of vectors) {
      const isRejected = rejected(file, () =>
        verifyInclusion(b64(v.leafHash), v.leafIdx, v.treeSize, proofOf(v.proof), b64(v.root)),
      );
      assert.equal(isRejected, v.wantErr, `${file}: ${v.desc}`);
      counts[isRejected ? 'rejected' : 'accepted'] += 1;
    }
    assert.deepEqual(counts, EXPECTED.inclusion);
  });

  it('recomputes the root of every happy-path vector', () => {
    const happy = vectors.filter(({ vector }) => !vector.wantErr);
    for (const { file, vector: v } of happy) {
      const root = rootFromInclusionProof(b64(v.leafHash), v.leafIdx, v.treeSize, proofOf(v.proof));
      assert.deepEqual(root, b64(v.root), file);
    }
  });

  it('generates the same proofs and roots as the reference for its tree', async () => {
    const reference = vectors.filter(({ file, vector }) => fromReferenceTree(file) && !vector.wantErr);
    assert.equal(reference.length, 5);
    for (const { file, vector: v } of reference) {
      assert.deepEqual(await inclusionProof(referenceSource, v.leafIdx, v.treeSize), proofOf(v.proof), file);
      assert.deepEqual(await rootHash(referenceSource, v.treeSize), b64(v.root), file);
    }
  });
});

describe('transparency-dev/merkle consistency vectors', () => {
  const vectors = load<ConsistencyVector>('consistency');

  it('verifies every happy-path vector and rejects every broken one', () => {
    const counts = { accepted: 0, rejected: 0 };
    for (const { file, vector: v } of vectors) {
      const isRejected = rejected(file, () =>
        verifyConsistency(v.size1, v.size2, proofOf(v.proof), b64(v.root1), b64(v.root2)),
      );
      assert.equal(isRejected, v.wantErr, `${file}: ${v.desc}`);
      counts[isRejected ? 'rejected' : 'accepted'] += 1;
    }
    assert.deepEqual(counts, EXPECTED.consistency);
  });

  it('generates the same proofs as the reference for its tree', async () => {
    const reference = vectors.filter(({ file, vector }) => fromReferenceTree(file) && !vector.wantErr);
    assert.equal(reference.length, 5);
    for (const { file, vector: v } of reference) {
      assert.deepEqual(await consistencyProof(referenceSource, v.size1, v.size2), proofOf(v.proof), file);
      assert.deepEqual(await rootHash(referenceSource, v.size1), b64(v.root1), file);
      assert.deepEqual(await rootHash(referenceSource, v.size2), b64(v.root2), file);
    }
  });
});
