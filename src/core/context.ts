import type { ChatCompletionChunk, ModelRequest, ModelResponse } from './api.js';
import type { UpstreamConnector } from './upstream.js';

/** What the caller presented; the authenticate stage turns it into a Principal. */
export interface Credentials {
  /** The bearer token from `Authorization: Bearer …`, if any. Never logged. */
  readonly bearer: string | undefined;
  /** Lower-cased request headers (read-only view; values never logged). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The client's address, for policy and audit. */
  readonly remoteAddress: string | undefined;
  /**
   * The client certificate of a mutual-TLS connection, when the data plane asks for one and the
   * TLS layer verified its chain. Absent on plain connections.
   */
  readonly clientCertificate?: ClientCertificate;
}

/** What the TLS layer verified about a client certificate. */
export interface ClientCertificate {
  /** The SPIFFE ID from the certificate's URI SAN, when it has exactly one. */
  readonly spiffeId?: string;
  /** Hex serial number, for revocation. */
  readonly serialNumber: string;
  /** SHA-256 fingerprint of the DER certificate (hex, colon-separated as node prints it). */
  readonly fingerprint256: string;
  /** Seconds since the epoch when the certificate expires. */
  readonly notAfter: number;
}

export type PrincipalKind = 'user' | 'service';
export type AuthMethod = 'oidc' | 'api_key' | 'mtls';

export type AttributeValue = string | number | boolean | readonly string[];

/** Who is asking, as verified by the authenticate stage. */
export interface Principal {
  readonly kind: PrincipalKind;
  /** Stable id, `issuer#subject` for OIDC users. */
  readonly id: string;
  readonly issuer: string;
  readonly subject: string;
  readonly authMethod: AuthMethod;
  readonly roles: readonly string[];
  readonly groups: readonly string[];
  readonly email?: string;
  /** Seconds since the epoch when the credential stops being valid. */
  readonly expiresAt?: number;
  readonly sessionId?: string;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/** The device a request comes from, from a posture assertion signed by a device-trust service. */
export interface Device {
  readonly id: string;
  /** `verified`: a fresh, bound, correctly signed assertion. `untrusted`: missing, stale, unbound
   *  or forged, and config says to mark rather than refuse (policy decides what that allows). */
  readonly trust: 'verified' | 'untrusted';
  /** Why the device is untrusted (a stable code such as `posture_missing`), when it is. */
  readonly untrustedReason?: string;
  readonly managed: boolean;
  readonly compliant: boolean;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/** Something a detector found. Values are never stored here: offsets only. */
export interface Finding {
  readonly detector: string;
  /** Presidio-style entity type or detector category (for example `EMAIL_ADDRESS`, `SECRET`). */
  readonly type: string;
  readonly score: number;
  /** Where: the text slot (guard/text-slots.ts: message contents, content parts, tool-call
   *  arguments, embedding inputs, in request order) and code-unit offsets into its text. */
  readonly location?: { readonly message: number; readonly start: number; readonly end: number };
}

/** A duty attached to an allow decision, for example `max_tokens:1024`. */
export interface Obligation {
  readonly kind: string;
  readonly value: string;
}

export interface Decision {
  readonly effect: 'allow' | 'deny';
  /** Ids of the policies (or built-in rules) that determined the effect. */
  readonly determiningPolicies: readonly string[];
  readonly obligations: readonly Obligation[];
  readonly errors: readonly string[];
  /** Digest of the policy bundle that decided; `builtin:…` for built-in rules. */
  readonly bundleDigest: string;
  /** What the decision was made from, for `ztgate policy simulate`; set by the Cedar decider. */
  readonly input?: RecordedDecisionInput;
}

/**
 * The input of one policy decision as plain JSON data, recorded so that a candidate bundle can be
 * replayed against it later (docs/POLICY.md, Simulation). It holds what the engine reads, never
 * prompt text, matched text or credentials.
 */
export interface RecordedDecisionInput {
  /** Format version of this record; a reader skips versions it does not know. */
  readonly version: number;
  /** Absent when there was no principal. Attributes are the claims mapped to attributes. */
  readonly principal?: {
    readonly kind: PrincipalKind;
    readonly id: string;
    readonly roles: readonly string[];
    readonly groups: readonly string[];
    readonly attributes: Readonly<Record<string, AttributeValue>>;
  };
  readonly device?: Pick<Device, 'id' | 'trust' | 'managed' | 'compliant'>;
  /** A policy action, e.g. `chat`. */
  readonly action: string;
  /** `Model`, `Tool` or `Gateway`, and its id. */
  readonly resource: { readonly type: string; readonly id: string };
  readonly workspace?: string;
  /** Only what the engine reads of each finding: never its location or matched text. */
  readonly findings: readonly {
    readonly type: string;
    readonly detector?: string;
    readonly score?: number;
  }[];
  readonly dataClass: string;
  readonly risk: number;
  readonly networkZone: string;
  readonly residency: string;
  readonly time: { readonly hour: number; readonly weekday: string };
  /** The model's catalogue attributes at decision time; absent when the catalogue did not know
   *  the resource (the bundle's entities described it). */
  readonly model?: ModelAttributes;
}

/** A change a stage made to the request or answer, for the audit record. */
export interface Transformation {
  readonly stage: 'transform' | 'scan_output';
  readonly kind: string;
  readonly count: number;
}

/** What the catalogue (and so policy) knows about a model: the Cedar `Model` entity's attributes. */
export interface ModelAttributes {
  readonly provider: string;
  readonly region: string;
  readonly runtimeKind: 'cloud' | 'on_prem';
  readonly attestationKind: string;
  readonly attested: boolean;
  readonly dataClasses: readonly string[];
  /** Workspaces the model belongs to (Cedar parents). */
  readonly workspaces?: readonly string[];
}

/** The resolved destination of a request. */
export interface RoutePlan {
  readonly modelId: string;
  readonly upstreamId: string;
  readonly upstreamModel: string;
  readonly connector: UpstreamConnector;
  /** The accepted attestation of the runtime serving it (upstreams with `attestation` only). */
  readonly attestationId?: string;
}

/**
 * A request as it flows through the pipeline. Stages never mutate it: each returns what it
 * learned and the pipeline (the one place that knows the order) records it here.
 */
export interface RequestContext {
  readonly id: string;
  /** `performance.now()` when the request arrived, for latency. */
  readonly startedAt: number;
  /** Wall clock (ms since epoch) when the request arrived. */
  readonly receivedAt: number;
  readonly request: ModelRequest;
  /** SHA-256 (hex) of the request body as received, for the audit record. */
  readonly promptSha256: string;
  /** The request body as received (what `promptSha256` hashes), kept for a `retain` obligation. */
  readonly rawBody?: Buffer;
  readonly credentials: Credentials;
  principal?: Principal;
  device?: Device;
  findings: readonly Finding[];
  /** The principal's risk score (0..100) when the request arrived, from the watch service (policy context). */
  risk?: number;
  /** The request's data class from the inspect stage's classifier (policy context). */
  dataClass?: string;
  decision?: Decision;
  /** The request as it will be sent upstream, after the transform stage. */
  upstreamRequest?: ModelRequest;
  transformations: readonly Transformation[];
  /** Puts back what the transform stage replaced, where policy allows (from the transform stage). */
  restorer?: TextRestorer;
  /** A random token the transform stage planted in the system prompt; an answer carrying it leaked the prompt. */
  canary?: string;
  route?: RoutePlan;
}

/**
 * Restores placeholders the transform stage put in the request (for example `[PERSON_1]`) in
 * the answer's text, for the entity types policy lets the caller see. Per request: it holds
 * that request's mapping only.
 */
export interface TextRestorer {
  restore(text: string): { readonly text: string; readonly restored: number };
  /** A restorer for a stream of text deltas: holds back a placeholder split across deltas. */
  stream(): { push(delta: string): string; end(): string; restored(): number };
}

/** What the output scanner returns for a whole answer. */
export interface ScannedResponse {
  readonly response: ModelResponse;
  readonly findings: readonly Finding[];
  readonly transformations: readonly Transformation[];
}

/** Scans a streamed answer chunk by chunk; may hold chunks back and release them later. */
export interface StreamScanner {
  /** Returns the chunks that may be released now (possibly none, possibly earlier ones). */
  push(chunk: ChatCompletionChunk): Promise<readonly ChatCompletionChunk[]>;
  /** Called at the end of the stream: returns what is still held back. */
  end(): Promise<readonly ChatCompletionChunk[]>;
  findings(): readonly Finding[];
  transformations(): readonly Transformation[];
}
