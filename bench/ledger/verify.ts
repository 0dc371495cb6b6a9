// Full verification of a stored ledger, and inclusion proofs over stored nodes.
import { randomInt } from 'node:crypto';
import { leafHash, MerkleFrontier } from '../../src/ledger/merkle.js';
import { verifyInclusion } from '../../src/ledger/merkle-verify.js';
import { verifierFromPublicKey } from '../../src/ledger/note.js';
import { storedInclusionProof } from '../../src/ledger/store-proofs.js';
import { verifyLedger, type LedgerVerifyReport } from '../../src/ledger/verify-log.js';
import type { AuditRepository } from '../../src/store/index.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { BENCH_ORIGIN, type CachedLedger } from './build.js';
import { memory, summarize, type Summary } from './common.js';

const PAGE = 10_000;

export interface Timed<T> {
  readonly ms: number;
  readonly result: T;
  readonly memory: string;
}

async function timed<T>(run: () => Promise<T>): Promise<Timed<T>> {
  const start = performance.now();
  const result = await run();
  return { ms: performance.now() - start, result, memory: memory() };
}

/** Opens the cached database as the gateway would (reads only: no migration, no writer thread). */
async function withStore<T>(ledger: CachedLedger, run: (audit: AuditRepository) => Promise<T>): Promise<T> {
  const store = new SqliteStore({ path: ledger.path });
  try {
    return await run(store.audit);
  } finally {
    await store.close();
  }
}

/** `ztgate audit verify`'s engine over the whole ledger; an Error when it is not available. */
export function benchVerifyLedger(ledger: CachedLedger): Promise<Timed<LedgerVerifyReport> | Error> {
  return withStore(ledger, async (audit) => {
    const verifiers = [verifierFromPublicKey(BENCH_ORIGIN, ledger.publicKey)];
    try {
      return await timed(() => verifyLedger(audit, { origin: BENCH_ORIGIN, verifiers }));
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  });
}

export interface Recomputed {
  readonly size: number;
  readonly rootMatches: boolean;
  readonly leafHashMismatches: number;
}

/**
 * The floor under any full verification: read every leaf page, recompute each leaf hash from its
 * text, compare it with the stored one, fold them into the root and compare with the tree head.
 */
export function benchRecompute(ledger: CachedLedger): Promise<Timed<Recomputed>> {
  return withStore(ledger, (audit) =>
    timed(async () => {
      const head = await audit.treeHead();
      const frontier = new MerkleFrontier();
      let mismatches = 0;
      for (let start = 0; start < head.size; start += PAGE) {
        for (const leaf of await audit.leaves(start, Math.min(head.size, start + PAGE))) {
          const hash = leafHash(Buffer.from(leaf.text, 'utf8'));
          if (leaf.index !== frontier.size || !hash.equals(leaf.leafHash)) mismatches++;
          frontier.append(hash);
        }
      }
      return {
        size: frontier.size,
        rootMatches: frontier.root().equals(head.rootHash),
        leafHashMismatches: mismatches,
      };
    }),
  );
}

export interface ProofFigures {
  readonly size: number;
  readonly proofLength: number;
  readonly latency: Summary;
  readonly verified: number;
  readonly memory: string;
}

/** Inclusion proofs of random leaves against the full tree, each timed on its own. */
export function benchInclusionProofs(ledger: CachedLedger, count: number): Promise<ProofFigures> {
  return withStore(ledger, async (audit) => {
    const { size, rootHash } = await audit.treeHead();
    for (let i = 0; i < Math.min(500, count); i++) await storedInclusionProof(audit, randomInt(size), size);
    const latencies = new Float64Array(count);
    let verified = 0;
    let proofLength = 0;
    for (let i = 0; i < count; i++) {
      const index = randomInt(size);
      const t0 = performance.now();
      const proof = await storedInclusionProof(audit, index, size);
      latencies[i] = performance.now() - t0;
      proofLength = Math.max(proofLength, proof.length);
      // Every 20th proof is checked (outside the timing), so a fast wrong answer cannot pass.
      if (i % 20 === 0) {
        const [hash] = await audit.leafHashes(index, index + 1);
        verifyInclusion(hash!, index, size, proof, rootHash);
        verified++;
      }
    }
    return { size, proofLength, latency: summarize(latencies), verified, memory: memory() };
  });
}
