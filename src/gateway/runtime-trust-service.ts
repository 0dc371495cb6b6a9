import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { resolveSecret, type ZtgateConfig } from '../config/index.js';
import { canonicalJson } from '../ledger/canonical-json.js';
import type { AuditEntry } from '../core/index.js';
import type { Mesh } from '../mesh/index.js';
import { DevVerifier } from '../runtime/attestation/dev.js';
import { SevSnpVerifier } from '../runtime/attestation/sev-snp.js';
import { TdxVerifier } from '../runtime/attestation/tdx.js';
import type { BundleRuntimeReference } from '../runtime/attestation/reference-schema.js';
import type { EvidenceKind, EvidenceVerifier, ReferenceValues } from '../runtime/attestation/types.js';
import type { RuntimeEligibility } from '../runtime/router.js';
import { agentChallenger } from '../runtime/trust/agent-challenge.js';
import { RuntimeTrust, type AttestedRuntime, type TrustEvent } from '../runtime/trust/runtime-trust.js';
import { referenceFromConfig, serviceVerifier } from './attestation-config.js';
import { controlAuditEntry } from './control-audit.js';
import type { KeyService } from './key-service.js';

/** Runtime trust as the gateway runs it: which attested upstreams may get traffic now. */
export interface RuntimeTrustService {
  readonly trust: RuntimeTrust;
  /** For the route stage: upstreams without `attestation` are always eligible. */
  eligible(upstreamId: string): RuntimeEligibility;
  /**
   * What policy may believe about an upstream's runtime now: for an upstream with `attestation`,
   * `attested` only while a hardware-rooted verdict is fresh (`dev` never counts) and the kind of
   * that verdict; undefined for others (their configured attributes stand).
   */
  attestation(
    upstreamId: string,
  ): { readonly attested: boolean; readonly attestationKind: string } | undefined;
  /** Challenges every attested runtime now (at start, on the schedule; tests call it). */
  attestAll(): Promise<void>;
  /** A new live policy bundle: its runtimes.json reference values replace config's, recorded, then re-attested. */
  applyBundle(bundle: BundleReferences): Promise<void>;
  close(): Promise<void>;
}

export interface RuntimeTrustServiceOptions {
  readonly config: ZtgateConfig;
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly keys: KeyService;
  readonly mesh: Mesh | undefined;
  /** Appends to the audit ledger (a verdict counts only once recorded). */
  readonly audit: (entry: AuditEntry) => Promise<unknown>;
  readonly logger: Logger;
  /** The live policy bundle at start (its runtimes.json reference values apply from the first challenge). */
  readonly bundle?: BundleReferences;
}

/** What runtime trust reads of a policy bundle. */
export interface BundleReferences {
  readonly digest: string;
  readonly runtimes: ReadonlyMap<string, BundleRuntimeReference>;
}

const referenceDigest = (reference: ReferenceValues): string =>
  createHash('sha256').update(canonicalJson(reference)).digest('hex');

/**
 * The reference values a runtime is matched against, as a `runtime.reference` control entry;
 * `source` is `config` or `bundle:<digest>` (the signed policy bundle's runtimes.json).
 */
export function referenceEntry(
  runtime: Pick<AttestedRuntime, 'id' | 'kind' | 'reference' | 'freshnessMs'>,
  source = 'config',
): AuditEntry {
  return controlAuditEntry({
    action: 'runtime.reference',
    target: `runtime:${runtime.id}`,
    actor: 'system',
    authMethod: 'system',
    outcome: 'ok',
    details: [
      `kind:${runtime.kind}`,
      `reference:sha256:${referenceDigest(runtime.reference)}`,
      `measurements:${runtime.reference.measurements.length}`,
      `freshness:${runtime.freshnessMs}ms`,
      `source:${source}`,
    ],
  });
}

/** Config's reference values with the fields a bundle's runtimes.json names replaced. */
export function withBundleReference(
  configured: ReferenceValues,
  fromBundle: BundleRuntimeReference | undefined,
): ReferenceValues {
  if (!fromBundle) return configured;
  const named = Object.fromEntries(Object.entries(fromBundle).filter(([, v]) => v !== undefined));
  return { ...configured, ...named } as ReferenceValues;
}

/** A TrustEvent as a ledger control entry: `runtime.attested` or `runtime.refused`. */
export function trustEventEntry(event: TrustEvent): AuditEntry {
  if (event.type === 'accepted') {
    const v = event.verdict;
    return controlAuditEntry({
      action: 'runtime.attested',
      target: `runtime:${v.runtime}`,
      actor: 'system',
      authMethod: 'system',
      outcome: 'ok',
      details: [
        `attestation:${v.attestationId}`,
        `kind:${v.kind}`,
        `measurement:${v.measurement}`,
        `hardware:${String(v.hardware)}`,
        ...(v.hardware ? [] : ['insecure:no-hardware-root']),
        `expires:${new Date(v.expiresAt).toISOString()}`,
      ],
    });
  }
  return controlAuditEntry({
    action: 'runtime.refused',
    target: `runtime:${event.runtime}`,
    actor: 'system',
    authMethod: 'system',
    outcome: 'failed',
    errorCode: event.reason,
    details: [`kind:${event.kind}`, `reason:${event.reason}`],
  });
}

const ALWAYS: RuntimeEligibility = { eligible: true };

/**
 * Builds RuntimeTrust over the upstreams that configure `attestation` (none: undefined), attests
 * them all at once (a runtime that is down is only ineligible: the start goes on) and again every
 * third of its freshness window. Every accepted and refused attestation is a ledger entry.
 */
export async function openRuntimeTrust(
  options: RuntimeTrustServiceOptions,
): Promise<RuntimeTrustService | undefined> {
  const { config, home, env, keys, mesh, logger } = options;
  const attested = Object.entries(config.upstreams).filter(([, u]) => u.attestation && u.mtls);
  if (attested.length === 0) return undefined;
  if (!mesh) throw new Error('upstream attestation needs mesh.enabled (mutual TLS to the agent)');
  const closing = new AbortController();
  const runtimes: AttestedRuntime[] = [];
  const configured = new Map<string, ReferenceValues>();
  for (const [id, upstream] of attested) {
    const a = upstream.attestation!;
    const where = `upstreams.${id}.attestation`;
    const secret = (ref: string, path: string) => resolveSecret(ref, path, home, env, keys.unseal);
    const fromConfig = await referenceFromConfig(a, where, secret);
    configured.set(id, fromConfig);
    const reference = withBundleReference(fromConfig, options.bundle?.runtimes.get(id));
    const verifier = await serviceVerifier(a, where, secret, home);
    const challenge = agentChallenger({
      baseUrl: upstream.baseUrl,
      connect: mesh.client({
        spiffeIds: upstream.mtls!.spiffeIds,
        connectTimeoutMs: upstream.timeouts.connectMs,
      }),
    });
    runtimes.push({
      id,
      kind: a.kind,
      reference,
      freshnessMs: a.freshness,
      ...(verifier ? { verifier } : {}),
      challenge: (nonce, signal) =>
        challenge(nonce, AbortSignal.any([signal, closing.signal])).catch((err: unknown) => {
          logger.warn(
            { runtime: id, err: err instanceof Error ? err.message : String(err) },
            'runtime trust: challenge failed',
          );
          throw err;
        }),
    });
  }
  // The reference values in force are ledger entries too (recorded at every start: a change of
  // config shows as a new digest), so what a runtime was matched against is transparent later.
  const sourceOf = (id: string, bundle: BundleReferences | undefined): string =>
    bundle?.runtimes.has(id) ? `bundle:${bundle.digest}` : 'config';
  for (const runtime of runtimes)
    await options.audit(referenceEntry(runtime, sourceOf(runtime.id, options.bundle)));
  const unknown = [...(options.bundle?.runtimes.keys() ?? [])].filter((id) => !configured.has(id));
  if (unknown.length > 0)
    logger.warn({ upstreams: unknown }, 'runtimes.json names upstreams without attestation: ignored');
  const verifiers = new Map<EvidenceKind, EvidenceVerifier>([
    ['dev', new DevVerifier()],
    ['sev-snp', new SevSnpVerifier()],
    ['tdx', new TdxVerifier()],
  ]);
  const trust = new RuntimeTrust({
    runtimes,
    verifiers,
    record: async (event) => {
      await options.audit(trustEventEntry(event));
      if (event.type === 'accepted') {
        const v = event.verdict;
        logger.info(
          {
            runtime: v.runtime,
            kind: v.kind,
            measurement: v.measurement,
            attestationId: v.attestationId,
            ...(v.hardware ? {} : { insecure: true }),
          },
          v.hardware ? 'runtime attested' : 'runtime attested (dev evidence: INSECURE, no hardware root)',
        );
      } else {
        logger.warn({ runtime: event.runtime, reason: event.reason }, 'runtime refused: not eligible');
      }
    },
  });
  const running = new Set<Promise<unknown>>();
  const attest = (id: string): Promise<void> => {
    if (closing.signal.aborted) return Promise.resolve();
    const attempt = trust.attest(id).then(
      () => undefined,
      (err: unknown) =>
        logger.error(
          { runtime: id, err: err instanceof Error ? err.message : String(err) },
          'runtime trust: the attestation could not be recorded; the runtime stays ineligible',
        ),
    );
    running.add(attempt);
    void attempt.finally(() => running.delete(attempt));
    return attempt;
  };
  const attestAll = async (): Promise<void> => {
    await Promise.all(runtimes.map((r) => attest(r.id)));
  };
  await attestAll();
  const timers = runtimes.map((r) => {
    const timer = setInterval(() => void attest(r.id), Math.max(250, Math.floor(r.freshnessMs / 3)));
    timer.unref();
    return timer;
  });
  return {
    trust,
    eligible: (upstreamId) => {
      if (!trust.governs(upstreamId)) return ALWAYS;
      const status = trust.status(upstreamId);
      return status.eligible
        ? {
            eligible: true,
            attestationId: status.verdict.attestationId,
            attested: status.verdict.hardware,
          }
        : { eligible: false, reason: status.reason };
    },
    attestation: (upstreamId) => {
      if (!trust.governs(upstreamId)) return undefined;
      const status = trust.status(upstreamId);
      return status.eligible
        ? { attested: status.verdict.hardware, attestationKind: status.verdict.kind }
        : { attested: false, attestationKind: 'none' };
    },
    attestAll,
    applyBundle: async (bundle) => {
      for (const runtime of runtimes) {
        const next = withBundleReference(
          configured.get(runtime.id) as ReferenceValues,
          bundle.runtimes.get(runtime.id),
        );
        const now = trust.reference(runtime.id);
        if (now && referenceDigest(now) === referenceDigest(next)) continue;
        // Recorded before it applies, like every change of what a runtime is matched against.
        await options.audit(referenceEntry({ ...runtime, reference: next }, sourceOf(runtime.id, bundle)));
        logger.info(
          { runtime: runtime.id, source: sourceOf(runtime.id, bundle) },
          'runtime reference values changed: re-attesting',
        );
        await trust.setReference(runtime.id, next);
      }
    },
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      closing.abort(new Error('the gateway is shutting down'));
      await Promise.all([...running]);
    },
  };
}
