import type { AuditRepository } from '../store/index.js';
import {
  consistencyProof,
  inclusionProof,
  rootHash,
  type LeafSource,
  type NodeCache,
} from './merkle-proofs.js';

type LedgerReads = Pick<AuditRepository, 'leafHashes' | 'node'>;

/**
 * The stored log as a LeafSource of `size` leaves (size must not exceed what is stored). Leaf hashes
 * are read as stored: proofs serve what was committed; verifiers recompute from the leaf text.
 */
export function storeLeafSource(audit: LedgerReads, size: number): LeafSource {
  return {
    size,
    async leafHash(index) {
      const [hash] = await audit.leafHashes(index, index + 1);
      if (!hash) throw new Error(`ledger leaf ${index} is missing`);
      return hash;
    },
    async leafHashes(start, end) {
      const hashes = await audit.leafHashes(start, end);
      if (hashes.length !== end - start) throw new Error(`ledger leaves ${start}..${end} are missing`);
      return hashes;
    },
  };
}

/** The stored perfect subtrees, for proofs in O(log n) reads. */
export function storeNodeCache(audit: LedgerReads): NodeCache {
  return (level, index) => audit.node(level, index);
}

/** PATH(index, D[0:size]) from storage. */
export function storedInclusionProof(audit: LedgerReads, index: number, size: number): Promise<Buffer[]> {
  return inclusionProof(storeLeafSource(audit, size), index, size, { nodeCache: storeNodeCache(audit) });
}

/** PROOF(from, D[0:to]) from storage. */
export function storedConsistencyProof(audit: LedgerReads, from: number, to: number): Promise<Buffer[]> {
  return consistencyProof(storeLeafSource(audit, to), from, to, { nodeCache: storeNodeCache(audit) });
}

/** MTH(D[0:size]) from storage. */
export function storedRootHash(audit: LedgerReads, size: number): Promise<Buffer> {
  return rootHash(storeLeafSource(audit, size), size, { nodeCache: storeNodeCache(audit) });
}
