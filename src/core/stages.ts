import type { ModelRequest, ModelResponse } from './api.js';
import type { AuditEntry, AuditReceipt } from './audit.js';
import type {
  Credentials,
  Decision,
  Device,
  Finding,
  Principal,
  RequestContext,
  RoutePlan,
  ScannedResponse,
  StreamScanner,
  TextRestorer,
  Transformation,
} from './context.js';

/**
 * The contract of each pipeline stage. A stage is built once by a factory from config and is
 * then a plain async function. It stops a request only by throwing a ZtError; anything else it
 * throws, or a time-out, refuses the request with the stage's failure code (fail closed).
 */

export interface AuthenticateInput {
  readonly requestId: string;
  readonly credentials: Credentials;
}
export interface Authenticated {
  readonly principal: Principal;
  readonly device?: Device;
}
export type AuthenticateStage = (input: AuthenticateInput) => Promise<Authenticated>;

/** What the inspect stage learned: findings (no values) and the request's data class. */
export interface Inspection {
  readonly findings: readonly Finding[];
  readonly dataClass?: string;
}
export type InspectStage = (ctx: Readonly<RequestContext>) => Promise<Inspection>;

export type DecideStage = (ctx: Readonly<RequestContext>) => Promise<Decision>;

export interface Transformed {
  readonly request: ModelRequest;
  readonly transformations: readonly Transformation[];
  readonly restorer?: TextRestorer;
  readonly canary?: string;
}
export type TransformStage = (ctx: Readonly<RequestContext>) => Promise<Transformed>;

export type RouteStage = (ctx: Readonly<RequestContext>) => Promise<RoutePlan>;

export interface OutputScanStage {
  scan(ctx: Readonly<RequestContext>, response: ModelResponse): Promise<ScannedResponse>;
  openStream(ctx: Readonly<RequestContext>): StreamScanner;
}

/** What a `retain` obligation asks the record stage to keep, encrypted, beside the entry. */
export interface RetainRequest {
  readonly hours: number;
  /** The principal, for per-subject keys (erasure requests). */
  readonly subject: string | null;
  readonly prompt: string;
  readonly answer: string | null;
}

/** Appends the entry to the ledger (keeping content first when `retain` is given); resolves once durable. */
export type RecordStage = (entry: AuditEntry, retain?: RetainRequest) => Promise<AuditReceipt>;

/** Events for the asynchronous watch side channel. It must never throw or block. */
export interface WatchEvent {
  readonly kind: 'request.completed' | 'request.refused';
  readonly entry: AuditEntry;
}
export type WatchSink = (event: WatchEvent) => void;

/** All stages, as the pipeline receives them. */
export interface Stages {
  readonly authenticate: AuthenticateStage;
  readonly inspect: InspectStage;
  readonly decide: DecideStage;
  readonly transform: TransformStage;
  readonly route: RouteStage;
  readonly scanOutput: OutputScanStage;
  readonly record: RecordStage;
  readonly watch: WatchSink;
}
