import type { Decision } from '../core/index.js';
import type { PolicyBundle } from './bundle.js';
import * as cedar from './cedar.js';
import { buildRequest } from './entities.js';
import { mergeObligations, type ParsedObligation } from './obligations.js';
import type { DecisionInput, ModelCatalogue } from './types.js';

function deny(
  bundle: PolicyBundle,
  errors: readonly string[],
  determining: readonly string[] = [],
): Decision {
  return {
    effect: 'deny',
    determiningPolicies: determining,
    obligations: [],
    errors,
    bundleDigest: bundle.digest,
  };
}

/**
 * The policy decision point: pure, synchronous, no I/O. Builds the Cedar request from plain
 * data, asks the preparsed policy set, and turns the answer into a Decision. Anything that is
 * not a clean allow is a deny: a missing principal or entity, a request that does not match
 * the schema, an engine failure, any policy evaluation error (even when another policy
 * permits), or conflicting route obligations.
 */
export function decide(input: DecisionInput, bundle: PolicyBundle, catalogue?: ModelCatalogue): Decision {
  const built = buildRequest(input, bundle.entities, catalogue);
  if (!built.ok) return deny(bundle, [built.error]);
  const r = built.request;
  let answer: ReturnType<typeof cedar.statefulIsAuthorized>;
  try {
    answer = cedar.statefulIsAuthorized({
      principal: r.principal,
      action: r.action,
      resource: r.resource,
      context: r.context,
      entities: r.entities,
      preparsedPolicySetId: bundle.preparsed.policySetId,
      preparsedSchemaName: bundle.preparsed.schemaName,
      validateRequest: true,
    });
  } catch {
    return deny(bundle, ['policy.engine_error']);
  }
  if (answer.type === 'failure') {
    // The engine refuses requests, contexts and entities that do not match the schema.
    const text = answer.errors.map((e) => e.message).join('; ');
    const code = /not found|not preparsed|no (policy set|schema)/i.test(text)
      ? 'policy.engine_error'
      : 'policy.request_invalid';
    return deny(bundle, [code]);
  }
  const { decision, diagnostics } = answer.response;
  const reasons = [...diagnostics.reason].sort();
  if (diagnostics.errors.length) {
    const ids = [...new Set(diagnostics.errors.map((e) => e.policyId))].sort();
    return deny(
      bundle,
      ids.map((id) => `policy.evaluation_error:${id}`),
      decision === 'deny' ? reasons : [],
    );
  }
  if (decision !== 'allow') return deny(bundle, [], reasons);
  const duties: ParsedObligation[] = [];
  for (const id of reasons) duties.push(...(bundle.obligations.get(id) ?? []));
  const merged = mergeObligations(duties);
  if (!merged.ok) return deny(bundle, [merged.error], reasons);
  return {
    effect: 'allow',
    determiningPolicies: reasons,
    obligations: merged.obligations,
    errors: [],
    bundleDigest: bundle.digest,
  };
}
