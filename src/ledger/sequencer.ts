import { HASH_SIZE, leafHash, MerkleFrontier, type CompletedNode } from './merkle.js';

/**
 * Sequencing: turning a batch of audit entries into ledger leaves. Pure and synchronous, so the
 * same code runs in the SQLite writer thread and in the PostgreSQL writer, inside the write
 * transaction that reads the frontier and stores its successor.
 */

/** What the sequencer keeps between batches: the leaf count and the frontier's subtree roots. */
export interface SequencerState {
  readonly size: number;
  /** The frontier's nodes (largest subtree first), concatenated: 32 bytes each. */
  readonly frontier: Buffer;
}

/** One entry to sequence: its canonical JSON and the time it was handed to storage. */
export interface PendingEntry {
  readonly entryJson: string;
  readonly storedAt: string;
}

export interface SequencedLeaf {
  readonly index: number;
  readonly text: string;
  readonly leafHash: Buffer;
}

export interface SequencedBatch {
  readonly leaves: readonly SequencedLeaf[];
  /** Perfect subtrees (level ≥ 1) the batch completed, to store for proofs. */
  readonly nodes: readonly CompletedNode[];
  readonly state: SequencerState;
}

export const EMPTY_SEQUENCER_STATE: SequencerState = { size: 0, frontier: Buffer.alloc(0) };

/**
 * The leaf data: canonical JSON (RFC 8785) of `{entry, index, storedAt}`. The keys are already in
 * canonical order and `entryJson` is canonical, so the concatenation is canonical too; the index
 * inside the leaf makes a moved or re-numbered row detectable on its own.
 */
export function leafText(entryJson: string, index: number, storedAt: string): string {
  return `{"entry":${entryJson},"index":${index},"storedAt":${JSON.stringify(storedAt)}}`;
}

export function frontierOf(state: SequencerState): MerkleFrontier {
  if (state.frontier.length % HASH_SIZE !== 0) throw new Error('ledger state: frontier is not whole hashes');
  const nodes: Buffer[] = [];
  for (let i = 0; i < state.frontier.length; i += HASH_SIZE)
    nodes.push(state.frontier.subarray(i, i + HASH_SIZE));
  return MerkleFrontier.fromNodes(state.size, nodes);
}

/** Assigns the next indices to `entries`, hashes them and extends the frontier. */
export function sequence(state: SequencerState, entries: readonly PendingEntry[]): SequencedBatch {
  const frontier = frontierOf(state);
  const leaves: SequencedLeaf[] = [];
  const nodes: CompletedNode[] = [];
  for (const pending of entries) {
    const index = frontier.size;
    const text = leafText(pending.entryJson, index, pending.storedAt);
    const hash = leafHash(Buffer.from(text, 'utf8'));
    leaves.push({ index, text, leafHash: hash });
    for (const node of frontier.append(hash)) nodes.push(node);
  }
  return { leaves, nodes, state: { size: frontier.size, frontier: Buffer.concat(frontier.nodes()) } };
}

/** The root of the tree a sequencer state describes. */
export function stateRoot(state: SequencerState): Buffer {
  return frontierOf(state).root();
}
