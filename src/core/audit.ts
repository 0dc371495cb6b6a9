import type { RecordedDecisionInput } from './context.js';

/**
 * One audit record. It holds metadata, counts and digests only: never prompt or answer text,
 * never credentials. The ledger's leaf holds it as canonical JSON (see store LedgerLeaf).
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
  /** The data class the request was classified as (public / internal / confidential / restricted). */
  readonly dataClass?: string | null;
  readonly deviceId?: string | null;
  readonly sessionId?: string | null;
  /** The principal's workspace (claim mapping `workspace`), when it has one. */
  readonly workspace?: string | null;
  /** The model runtime that served it and the id of its accepted attestation, when attested. */
  readonly runtimeId?: string | null;
  readonly attestationId?: string | null;
  /**
   * Where retained prompt and answer content is kept, encrypted under a per-period or per-subject
   * key (a `retain` obligation); absent when nothing was kept. Never the content itself.
   */
  readonly retention?: RetentionRef;
  /** Control-plane entries: the object acted on, for example `key:ledger-signing@3`. */
  readonly target?: string;
  /**
   * The policy decision's inputs (principal id, roles, groups and attributes, device posture,
   * action, resource, finding types and scores, data class, time, the model's attributes), for
   * `ztgate policy simulate`. Inputs only: never prompt or answer text, matched text or tokens.
   */
  readonly decisionInput?: RecordedDecisionInput;
}

/** Where a request's retained content is stored, and until when. */
export interface RetentionRef {
  /** The encrypted object's id (namespace `ztgate/ledger-content`). */
  readonly objectId: string;
  /** The key-encryption key whose destruction shreds it, for example `ledger-content-2026-11-30`. */
  readonly keyName: string;
  /** ISO-8601: the content is shredded once this time has passed. */
  readonly expiresAt: string;
  /** SHA-256 of the subject id, when the content is under a per-subject key. */
  readonly subject?: string;
}

/** Proof that an entry was stored. */
export interface AuditReceipt {
  readonly seq: number;
  /** The entry's leaf index in the ledger (seq − 1). */
  readonly index: number;
  /** SHA-256(0x00 ‖ leaf) hex. */
  readonly leafHash: string;
}
