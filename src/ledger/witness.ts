// STUB (being written by a helper): the contract other modules code against.
import type { WitnessConfig } from '../config/schema-ledger.js';

/** Consistency proofs the HTTP witness needs (from the ledger's storage). */
export type ConsistencyProver = (from: number, to: number) => Promise<readonly Buffer[]>;

export interface Witness {
  readonly name: string;
  /** Hands a new signed checkpoint (note text) of `size` leaves to the witness; rejects when it refused. */
  publish(note: string, size: number): Promise<void>;
}

export function createWitness(_config: WitnessConfig, _prove: ConsistencyProver, _home: string): Witness {
  throw new Error('not implemented yet');
}
