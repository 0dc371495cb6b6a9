import {
  RouteError,
  type ModelAttributes,
  type RoutePlan,
  type RouteStage,
  type UpstreamConnector,
} from '../core/index.js';

export interface CatalogueModel {
  readonly id: string;
  readonly upstream: string;
  /** Further upstreams serving the model, in order of preference (failover among eligible runtimes). */
  readonly fallbacks?: readonly string[];
  readonly upstreamModel: string;
  readonly description?: string;
  /** True for the built-in demo model: shown as such in /v1/models and logs. */
  readonly demo?: boolean;
  /** What policy knows about the model (provider, region, runtime kind, attestation, data classes). */
  readonly attributes?: ModelAttributes;
}

/**
 * Whether a model runtime may get traffic now. Upstreams that do not require attestation are
 * always eligible (no `attestationId`); an attested one only while its verified evidence is fresh.
 */
export interface RuntimeEligibility {
  readonly eligible: boolean;
  /** Why not (`not_attested`, `evidence_stale`, a refusal code, …): for the log, never the client. */
  readonly reason?: string;
  /** The accepted attestation that makes it eligible. */
  readonly attestationId?: string;
  /** Whether that attestation has a hardware root (undefined for upstreams without attestation). */
  readonly attested?: boolean;
}

interface RegionalPlan {
  readonly plan: RoutePlan;
  /** The runtime's region (the upstream's, else the model's). */
  readonly region: string;
}

/**
 * Residency: each `route:region=…` obligation keeps only the runtimes in a listed region (their
 * order, hence failover preference, is kept). None left → 403 `route_not_permitted`.
 */
function inAllowedRegions(
  modelId: string,
  candidates: readonly RegionalPlan[],
  obligations: readonly { readonly kind: string; readonly value: string }[],
): readonly RegionalPlan[] {
  let kept = candidates;
  for (const o of obligations) {
    if (o.kind !== 'route') continue;
    const allowed = o.value.replace(/^region=/, '').split(',');
    kept = kept.filter((c) => allowed.includes(c.region));
    if (kept.length === 0)
      throw new RouteError('route_not_permitted', {
        logDetail: `model ${modelId}: no runtime in ${o.value} (runtimes in ${[...new Set(candidates.map((c) => c.region))].join(',')})`,
      });
  }
  return kept;
}

/** Obligation kinds this stage applies (the pipeline refuses a decision carrying others). */
export const ROUTE_OBLIGATIONS = ['route'] as const;

/**
 * The route stage: maps the requested model to the upstream that serves it. Unknown models are
 * 404 `model_not_found`; a model whose upstream is missing is 503 `no_route` (fail closed). A
 * `route:region=…` obligation admits only runtimes whose region is listed (an upstream's `region`,
 * else its model's; a model without attributes is in region `local`); none → 403 `route_not_permitted`. When `eligible` is
 * given, the first of the model's upstream and fallbacks whose runtime is eligible serves it;
 * when none is (attestation missing, refused or stale) the answer is 503 `runtime_unavailable`
 * and nothing is sent (fail closed).
 */
export function createRouter(
  models: readonly CatalogueModel[],
  connectors: ReadonlyMap<string, UpstreamConnector>,
  eligible?: (upstreamId: string) => RuntimeEligibility,
  upstreamRegions: ReadonlyMap<string, string> = new Map(),
): RouteStage {
  const plans = new Map<string, readonly RegionalPlan[]>();
  for (const model of models) {
    const candidates: RegionalPlan[] = [];
    for (const upstreamId of [model.upstream, ...(model.fallbacks ?? [])]) {
      const connector = connectors.get(upstreamId);
      const region = upstreamRegions.get(upstreamId) ?? model.attributes?.region ?? 'local';
      if (connector)
        candidates.push({
          plan: { modelId: model.id, upstreamId, upstreamModel: model.upstreamModel, connector },
          region,
        });
    }
    plans.set(model.id, candidates);
  }
  return async (ctx) => {
    const id = ctx.request.body.model;
    const all = plans.get(id);
    if (!all) throw new RouteError('model_not_found', { param: 'model' });
    if (all.length === 0) throw new RouteError('no_route', { logDetail: `model ${id} has no connector` });
    const candidates = inAllowedRegions(id, all, ctx.decision?.obligations ?? []);
    if (!eligible) return (candidates[0] as RegionalPlan).plan;
    // Policy decided on what the model's runtime had proved; never fail over to one that proved less.
    const decidedAttested = ctx.decision?.input?.model?.attested === true;
    const refused: string[] = [];
    for (const { plan } of candidates) {
      const runtime = eligible(plan.upstreamId);
      if (runtime.eligible && !(decidedAttested && runtime.attested === false)) {
        return runtime.attestationId ? { ...plan, attestationId: runtime.attestationId } : plan;
      }
      refused.push(
        `${plan.upstreamId}: ${runtime.eligible ? 'not attested' : (runtime.reason ?? 'unknown')}`,
      );
    }
    throw new RouteError('runtime_unavailable', {
      logDetail: `model ${id}: no eligible runtime (${refused.join('; ')})`,
    });
  };
}
