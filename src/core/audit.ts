import type { RecordedDecisionInput } from './context.js';

/**
 * One audit record. It holds metadata, counts and digests only: never prompt or answer text,
 * never credentials. The Merkle ledger (later) hashes exactly this shape.
 */
export interface AuditEntry {
  readonly requestId: string;
  /** ISO-8601 time the request arrived. */
  readonly time: string;
  /** `release`: written before the answer (or its first byte) goes out; `complete`: after a
   *  stream ended; `refused`: the pipeline refused the request; `control`: a control-plane
   *  operation (for example a key rotation), with `target` naming what it acted on. */
  readonly phase: 'release' | 'complete' | 'refused' | 'control';
  readonly action: string;
  readonly principalId: string | null;
  readonly authMethod: string | null;
  readonly modelId: string | null;
  readonly upstreamId: string | null;
  readonly decision: 'allow' | 'deny' | null;
  readonly determiningPolicies: readonly string[];
  readonly obligations: readonly string[];
  readonly bundleDigest: string | null;
  /** Finding counts by type, for example `{ "EMAIL_ADDRESS": 2 }`. */
  readonly findings: Readonly<Record<string, number>>;
  readonly transformations: readonly string[];
  readonly status: number;
  readonly errorCode: string | null;
  readonly stream: boolean;
  readonly promptTokens: number | null;
  readonly completionTokens: number | null;
  readonly latencyMs: number;
  /** SHA-256 (hex) of the canonical request body and of the answer, when there is one. */
  readonly promptSha256: string | null;
  readonly answerSha256: string | null;
  /** Control-plane entries: the object acted on, for example `key:ledger-signing@3`. */
  readonly target?: string;
  /**
   * The policy decision's inputs (principal id, roles, groups and attributes, device posture,
   * action, resource, finding types and scores, data class, time, the model's attributes), for
   * `ztgate policy simulate`. Inputs only: never prompt or answer text, matched text or tokens.
   */
  readonly decisionInput?: RecordedDecisionInput;
}

/** Proof that an entry was stored. */
export interface AuditReceipt {
  readonly seq: number;
}
