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

/** Obligation kinds this stage applies (the pipeline refuses a decision carrying others). */
export const ROUTE_OBLIGATIONS = ['route'] as const;

/**
 * The route stage: maps the requested model to the upstream that serves it. Unknown models are
 * 404 `model_not_found`; a model whose upstream is missing is 503 `no_route` (fail closed). A
 * `route:region=…` obligation admits only a model whose region is listed: another is 403
 * `route_not_permitted` (a model without attributes is in region `local`). When `eligible` is
 * given, the first of the model's upstream and fallbacks whose runtime is eligible serves it;
 * when none is (attestation missing, refused or stale) the answer is 503 `runtime_unavailable`
 * and nothing is sent (fail closed).
 */
export function createRouter(
  models: readonly CatalogueModel[],
  connectors: ReadonlyMap<string, UpstreamConnector>,
  eligible?: (upstreamId: string) => RuntimeEligibility,
): RouteStage {
  const plans = new Map<string, readonly RoutePlan[]>();
  const regions = new Map(models.map((m) => [m.id, m.attributes?.region ?? 'local']));
  for (const model of models) {
    const candidates: RoutePlan[] = [];
    for (const upstreamId of [model.upstream, ...(model.fallbacks ?? [])]) {
      const connector = connectors.get(upstreamId);
      if (connector)
        candidates.push({ modelId: model.id, upstreamId, upstreamModel: model.upstreamModel, connector });
    }
    plans.set(model.id, candidates);
  }
  return async (ctx) => {
    const id = ctx.request.body.model;
    const candidates = plans.get(id);
    if (!candidates) throw new RouteError('model_not_found', { param: 'model' });
    if (candidates.length === 0)
      throw new RouteError('no_route', { logDetail: `model ${id} has no connector` });
    const region = regions.get(id) ?? 'local';
    for (const o of ctx.decision?.obligations ?? []) {
      if (o.kind !== 'route') continue;
      const allowed = o.value.replace(/^region=/, '').split(',');
      if (!allowed.includes(region))
        throw new RouteError('route_not_permitted', {
          logDetail: `model ${id} is in ${region}, policy: ${o.value}`,
        });
    }
    if (!eligible) return candidates[0] as RoutePlan;
    // Policy decided on what the model's runtime had proved; never fail over to one that proved less.
    const decidedAttested = ctx.decision?.input?.model?.attested === true;
    const refused: string[] = [];
    for (const plan of candidates) {
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
