import { createHash, randomBytes } from 'node:crypto';
import {
  isAttestationError,
  type EvidenceKind,
  type EvidenceVerifier,
  type ReferenceValues,
  type Verdict,
} from '../attestation/types.js';

/** Bytes of every challenge nonce: fresh per challenge, never reused. */
export const NONCE_BYTES = 32;

/** What the runtime answered a challenge with, and the TLS key the gateway saw on that connection. */
export interface ChallengeAnswer {
  readonly evidence: string | Uint8Array;
  /** SHA-256 of the DER SubjectPublicKeyInfo of the certificate the runtime presented in mTLS. */
  readonly tlsKeyDigest?: Uint8Array;
}

/** A runtime that must prove what it runs before it gets traffic. */
export interface AttestedRuntime {
  /** The upstream (connector) id the runtime serves. */
  readonly id: string;
  readonly kind: EvidenceKind;
  readonly reference: ReferenceValues;
  /** How long an accepted verdict stays valid (default 10 min); a token's own expiry may cut it. */
  readonly freshnessMs: number;
  /** This runtime's own verifier (token kinds: its attestation service); default the one for `kind`. */
  readonly verifier?: EvidenceVerifier;
  /** Sends `nonce` to the runtime's agent (POST /attest over mTLS) and returns its answer. */
  challenge(nonce: Buffer, signal: AbortSignal): Promise<ChallengeAnswer>;
}

/** An accepted verdict as routing and the ledger see it. */
export interface RuntimeVerdict {
  readonly runtime: string;
  readonly kind: EvidenceKind;
  readonly measurement: string;
  /** False for `dev` evidence: no hardware root vouches for it (labelled insecure everywhere). */
  readonly hardware: boolean;
  /** SHA-256 (hex) of the evidence: the attestation id ledger entries and logs name. */
  readonly attestationId: string;
  readonly verifiedAt: number;
  readonly expiresAt: number;
}

export type RuntimeStatus =
  | { readonly eligible: true; readonly verdict: RuntimeVerdict }
  | { readonly eligible: false; readonly reason: string; readonly since: number };

/** What happened at one attestation, for the ledger and the logs. */
export type TrustEvent =
  | { readonly type: 'accepted'; readonly verdict: RuntimeVerdict }
  | {
      readonly type: 'refused';
      readonly runtime: string;
      readonly kind: EvidenceKind;
      readonly reason: string;
    };

export interface RuntimeTrustOptions {
  readonly runtimes: readonly AttestedRuntime[];
  readonly verifiers: ReadonlyMap<EvidenceKind, EvidenceVerifier>;
  /** Told of every accepted and refused attestation; it is recorded before the verdict counts. */
  readonly record: (event: TrustEvent) => Promise<unknown>;
  /** A challenge that takes longer than this fails. Default 10 s. */
  readonly challengeTimeoutMs?: number;
  readonly now?: () => number;
}

const DEFAULT_CHALLENGE_TIMEOUT_MS = 10_000;

function reasonOf(err: unknown): string {
  if (isAttestationError(err)) return err.code;
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return 'challenge_timeout';
  return 'challenge_failed';
}

/**
 * Which runtimes may get traffic right now. A runtime is eligible only while its last evidence
 * verified against its reference values and is fresh; anything else (never attested, a refused
 * or failed challenge, a stale verdict) is ineligible: routing fails closed. Each challenge uses
 * a fresh random nonce, so replayed evidence never verifies; the TLS key the gateway saw on the
 * challenge's connection must be the one the evidence binds.
 */
export class RuntimeTrust {
  readonly #options: RuntimeTrustOptions;
  readonly #runtimes: Map<string, AttestedRuntime>;
  readonly #status = new Map<string, RuntimeStatus>();
  readonly #inFlight = new Map<string, Promise<RuntimeStatus>>();
  readonly #now: () => number;

  constructor(options: RuntimeTrustOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#runtimes = new Map(options.runtimes.map((r) => [r.id, r]));
    for (const runtime of options.runtimes) {
      if (!runtime.verifier && !options.verifiers.has(runtime.kind))
        throw new Error(`runtime ${runtime.id}: no verifier for evidence kind ${runtime.kind}`);
    }
  }

  /** True when the upstream needs attestation at all (cloud upstreams without it are `none`). */
  governs(id: string): boolean {
    return this.#runtimes.has(id);
  }

  /** The runtime's status at `now`: eligible only with a verdict that has not expired. */
  status(id: string): RuntimeStatus {
    const status = this.#status.get(id) ?? { eligible: false, reason: 'not_attested', since: 0 };
    if (status.eligible && this.#now() >= status.verdict.expiresAt) {
      return { eligible: false, reason: 'evidence_stale', since: status.verdict.expiresAt };
    }
    return status;
  }

  /** Challenges the runtime now (concurrent calls share one challenge) and returns its new status. */
  attest(id: string): Promise<RuntimeStatus> {
    const running = this.#inFlight.get(id);
    if (running) return running;
    const runtime = this.#runtimes.get(id);
    if (!runtime) return Promise.reject(new Error(`unknown runtime ${id}`));
    const attempt = this.#attest(runtime).finally(() => this.#inFlight.delete(id));
    this.#inFlight.set(id, attempt);
    return attempt;
  }

  /** Challenges every runtime (at start, and on a schedule shorter than the freshness window). */
  async attestAll(): Promise<void> {
    await Promise.all([...this.#runtimes.keys()].map((id) => this.attest(id)));
  }

  /** The reference values a runtime is matched against now. */
  reference(id: string): ReferenceValues | undefined {
    return this.#runtimes.get(id)?.reference;
  }

  /**
   * New reference values for a runtime (a new signed policy bundle): it is ineligible at once and
   * must attest again against them. A challenge still running under the old values is discarded.
   */
  async setReference(id: string, reference: ReferenceValues): Promise<RuntimeStatus> {
    const runtime = this.#runtimes.get(id);
    if (!runtime) throw new Error(`unknown runtime ${id}`);
    this.#runtimes.set(id, { ...runtime, reference });
    this.quarantine(id, 'reference_changed');
    this.#inFlight.delete(id);
    return this.attest(id);
  }

  /** Makes a runtime ineligible at once (a playbook, an operator, a failed re-measure). */
  quarantine(id: string, reason: string): void {
    this.#status.set(id, { eligible: false, reason, since: this.#now() });
  }

  async #attest(runtime: AttestedRuntime): Promise<RuntimeStatus> {
    const nonce = randomBytes(NONCE_BYTES);
    const verifier = runtime.verifier ?? (this.#options.verifiers.get(runtime.kind) as EvidenceVerifier);
    let verdict: Verdict;
    let evidence: string | Uint8Array;
    const controller = new AbortController();
    const limit = this.#options.challengeTimeoutMs ?? DEFAULT_CHALLENGE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    // The time limit holds even for a challenge that ignores its signal.
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = Object.assign(new Error(`no answer within ${limit} ms`), { name: 'TimeoutError' });
        controller.abort(error);
        reject(error);
      }, limit);
    });
    // Handled here too: the timer may fire while the verifier runs, after the race is settled.
    timedOut.catch(() => undefined);
    try {
      const answer = await Promise.race([runtime.challenge(nonce, controller.signal), timedOut]);
      evidence = answer.evidence;
      verdict = await verifier.verify(
        evidence,
        { nonce, now: this.#now(), ...(answer.tlsKeyDigest ? { tlsKeyDigest: answer.tlsKeyDigest } : {}) },
        runtime.reference,
      );
    } catch (err) {
      const reason = reasonOf(err);
      if (this.#runtimes.get(runtime.id) !== runtime) return this.status(runtime.id);
      // Refused first, then recorded: a failure to record never leaves a runtime eligible.
      this.quarantine(runtime.id, reason);
      await this.#options.record({ type: 'refused', runtime: runtime.id, kind: runtime.kind, reason });
      return this.status(runtime.id);
    } finally {
      clearTimeout(timer);
    }
    const verifiedAt = this.#now();
    const accepted: RuntimeVerdict = {
      runtime: runtime.id,
      kind: verdict.kind,
      measurement: verdict.measurement,
      hardware: verdict.hardware,
      attestationId: createHash('sha256').update(evidence).digest('hex'),
      verifiedAt,
      expiresAt: Math.min(verifiedAt + runtime.freshnessMs, verdict.expiresAt ?? Number.POSITIVE_INFINITY),
    };
    // Matched against reference values that have since been replaced: it proves nothing now.
    if (this.#runtimes.get(runtime.id) !== runtime) return this.status(runtime.id);
    // Recorded before it counts: an accepted verdict the ledger does not hold never routes traffic.
    await this.#options.record({ type: 'accepted', verdict: accepted });
    if (this.#runtimes.get(runtime.id) !== runtime) return this.status(runtime.id);
    this.#status.set(runtime.id, { eligible: true, verdict: accepted });
    return this.status(runtime.id);
  }
}
