import { randomUUID } from 'node:crypto';
import type { AuditEntry } from '../core/index.js';

/** A control-plane operation (an API key created, a token revoked, …) to record. */
export interface ControlEvent {
  /** For example `apikey.create`, `revoke.subject`. */
  readonly action: string;
  /** What it acted on, for example `apikey:abcd…`, `token:1a2b…` (never a secret). */
  readonly target: string;
  readonly actor: string;
  /** `cli` for the ztgate command, `admin` for the admin API. */
  readonly authMethod: string;
  readonly outcome: 'ok' | 'failed';
  /** Stable code of a failure. */
  readonly errorCode?: string;
  /** Extra facts as `name:value` strings (for example `service:billing`), never secrets. */
  readonly details?: readonly string[];
  readonly time?: Date;
}

/** A control-plane operation as an audit entry (the same shape as keyAuditEntry's). */
export function controlAuditEntry(event: ControlEvent): AuditEntry {
  const ok = event.outcome === 'ok';
  return {
    requestId: randomUUID(),
    time: (event.time ?? new Date()).toISOString(),
    phase: 'control',
    action: event.action,
    principalId: event.actor,
    authMethod: event.authMethod,
    modelId: null,
    upstreamId: null,
    decision: ok ? 'allow' : null,
    determiningPolicies: [],
    obligations: [],
    bundleDigest: null,
    findings: {},
    transformations: [...(event.details ?? [])],
    status: ok ? 200 : 500,
    errorCode: event.errorCode ?? null,
    stream: false,
    promptTokens: null,
    completionTokens: null,
    latencyMs: 0,
    promptSha256: null,
    answerSha256: null,
    target: event.target,
  };
}
