import type { AuditEntry, Finding, RequestContext, Usage } from '../core/index.js';

export interface Outcome {
  readonly phase: AuditEntry['phase'];
  readonly status: number;
  readonly errorCode?: string;
  readonly usage?: Usage | null;
  readonly answerSha256?: string | null;
  readonly findings?: readonly Finding[];
}

function countByType(findings: readonly Finding[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of findings) counts[f.type] = (counts[f.type] ?? 0) + 1;
  return counts;
}

/**
 * Builds the audit entry for a request from what the pipeline learned. It copies metadata and
 * counts only: no prompt or answer text and no credential ever enters an entry.
 */
export function buildAuditEntry(ctx: Readonly<RequestContext>, outcome: Outcome): AuditEntry {
  const decision = ctx.decision;
  const findings = outcome.findings ? [...ctx.findings, ...outcome.findings] : ctx.findings;
  const body = ctx.request.body as { stream?: unknown };
  return {
    requestId: ctx.id,
    time: new Date(ctx.receivedAt).toISOString(),
    phase: outcome.phase,
    action: ctx.request.route,
    principalId: ctx.principal?.id ?? null,
    authMethod: ctx.principal?.authMethod ?? null,
    deviceId: ctx.device?.id ?? null,
    sessionId: ctx.principal?.sessionId ?? null,
    ...(typeof ctx.principal?.attributes.workspace === 'string'
      ? { workspace: ctx.principal.attributes.workspace }
      : {}),
    dataClass: ctx.dataClass ?? null,
    modelId: ctx.route?.modelId ?? null,
    upstreamId: ctx.route?.upstreamId ?? null,
    // Served by an attested runtime: which one, and the attestation that made it eligible.
    ...(ctx.route?.attestationId
      ? { runtimeId: ctx.route.upstreamId, attestationId: ctx.route.attestationId }
      : {}),
    decision: decision?.effect ?? null,
    determiningPolicies: decision?.determiningPolicies ?? [],
    obligations: decision?.obligations.map((o) => `${o.kind}:${o.value}`) ?? [],
    bundleDigest: decision?.bundleDigest ?? null,
    findings: countByType(findings),
    transformations: ctx.transformations.map((t) => `${t.stage}:${t.kind}x${t.count}`),
    status: outcome.status,
    errorCode: outcome.errorCode ?? null,
    stream: body.stream === true,
    promptTokens: outcome.usage?.prompt_tokens ?? null,
    completionTokens: outcome.usage?.completion_tokens ?? null,
    latencyMs: Math.round((performance.now() - ctx.startedAt) * 1000) / 1000,
    promptSha256: ctx.promptSha256,
    answerSha256: outcome.answerSha256 ?? null,
    // Decision inputs (never prompt text), for `ztgate policy simulate`.
    ...(decision?.input ? { decisionInput: decision.input } : {}),
  };
}
