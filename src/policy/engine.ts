import { createHash } from 'node:crypto';
import type { Decision } from '../core/index.js';
import { fastPathOf, type FastPath, type PolicyBundle, type ScopedPolicy, type ScopeTest } from './bundle.js';
import * as cedar from './cedar.js';
import { guardEnvOf } from './guard.js';
import { buildRequest, toTypeAndId, uidKey, type CedarRequest } from './entities.js';
import { buildFastRequest } from './fast-request.js';
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
 * Exact-match decision cache: the key is a sha256 over the preparsed policy set id (which names
 * the bundle digest and the action) and the complete Cedar request as sent (principal, action,
 * resource, context and every entity with its attributes and ancestors). Cedar is a pure
 * function of those, so a hit is the decision the engine would give; nothing can go stale.
 * Only answers the engine actually produced are cached (never engine failures). LRU-bounded.
 */
const CACHE_LIMIT_DEFAULT = 10_000;
let cacheLimit = CACHE_LIMIT_DEFAULT;
const cache = new Map<string, Decision>();

/** Sets the decision cache size (0 disables it and empties it). For benchmarks and tests. */
export function setDecisionCacheSize(entries: number = CACHE_LIMIT_DEFAULT): void {
  cacheLimit = Math.max(0, Math.floor(entries));
  if (cacheLimit === 0) cache.clear();
  while (cache.size > cacheLimit) cache.delete(cache.keys().next().value as string);
}

const copy = (d: Decision): Decision => ({
  effect: d.effect,
  determiningPolicies: [...d.determiningPolicies],
  obligations: d.obligations.map((o) => ({ ...o })),
  errors: [...d.errors],
  bundleDigest: d.bundleDigest,
});

/**
 * The policy decision point: pure, synchronous, no I/O. Builds the Cedar request from plain
 * data, asks the preparsed policy set, and turns the answer into a Decision. Anything that is
 * not a clean allow is a deny: a missing principal or entity, a request that does not match
 * the schema, an engine failure, any policy evaluation error (even when another policy
 * permits), or conflicting route obligations.
 *
 * Bundles on the shipped schema take the fast path (docs/POLICY.md, Performance): the request
 * is schema-conforming by construction (fast-request.ts), so the engine skips schema handling;
 * only the policies that can apply are considered (candidate index, scope, condition guards),
 * and the engine is asked only what the guards cannot decide. Inputs not provably conforming
 * take the reference path (schema + request validation), so decisions are the same either way.
 */
export interface DecideOptions {
  /**
   * Condition guards (guard.ts) may drop policies whose conditions are false and decide
   * without the engine when every candidate is certain. `false`: every decision by cedar-wasm
   * (scope subsets only). Default: on unless `setConditionGuards(false)`.
   */
  readonly guards?: boolean;
}

export function decide(
  input: DecisionInput,
  bundle: PolicyBundle,
  catalogue?: ModelCatalogue,
  options: DecideOptions = {},
): Decision {
  const fast = fastPathOf(bundle);
  if (fast) {
    const built = buildFastRequest(input, fast.index, catalogue);
    if (built.ok === false) return deny(bundle, [built.error]);
    if (built.ok === true) {
      const setId = fast.actionSets.get(input.action);
      const guards = options.guards ?? guardsOn;
      if (setId !== undefined) return decideFast(built.request, setId, fast, bundle, guards);
    }
  }
  const built = buildRequest(input, bundle.entities, catalogue);
  if (!built.ok) return deny(bundle, [built.error]);
  const r = built.request;
  return evaluate(bundle, () =>
    cedar.statefulIsAuthorized({
      principal: r.principal,
      action: r.action,
      resource: r.resource,
      context: r.context,
      entities: r.entities,
      preparsedPolicySetId: bundle.preparsed.policySetId,
      preparsedSchemaName: bundle.preparsed.schemaName,
      validateRequest: true,
    }),
  ).decision;
}

function decideFast(
  r: CedarRequest,
  setId: string,
  fast: FastPath,
  bundle: PolicyBundle,
  guards: boolean,
): Decision {
  if (cacheLimit === 0) return evaluate(bundle, () => run(r, planFor(fast, setId, r, guards))).decision;
  const key = createHash('sha256')
    .update(guards ? 'g' : 'e')
    .update(setId)
    .update('\0')
    .update(JSON.stringify(r))
    .digest('base64');
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return copy(hit);
  }
  const { decision, answered } = evaluate(bundle, () => run(r, planFor(fast, setId, r, guards)));
  if (answered) {
    cache.set(key, copy(decision));
    if (cache.size > cacheLimit) cache.delete(cache.keys().next().value as string);
  }
  return decision;
}

/**
 * Subsets: of an action's policies, only those whose principal and resource scope match this
 * request, and whose conditions are not false with certainty (guard.ts), can apply or fail
 * (Cedar evaluates the scope, then the conditions in order, and short-circuits), so the engine
 * is asked that subset, which decides exactly as the whole set does. When every policy left
 * has an exact scope and conditions true with certainty, the answer is Cedar's rule itself (a
 * satisfied forbid denies, naming the satisfied forbids; else a satisfied permit allows,
 * naming the satisfied permits; else deny) and the engine is not called; an empty subset is
 * the plain default deny. Subsets the engine must see are preparsed on first use into a
 * bounded number of engine slots, reused least recently used.
 */
const SUBSET_SLOTS = 256;
let guardsOn = true;

/** Turns condition guards off (scope subsets only, every decision by the engine). For benchmarks. */
export function setConditionGuards(on: boolean): void {
  guardsOn = on;
}

const subsets = new Map<string, string>();
let slotsUsed = 0;

function matches(test: ScopeTest, key: string, type: string, ancestors: ReadonlySet<string>): boolean {
  switch (test.op) {
    case 'All':
      return true;
    case '==':
      return test.key === key;
    case 'in':
      return test.key === key || ancestors.has(test.key);
    case 'is':
      return (
        test.type === type && (test.inKey === undefined || test.inKey === key || ancestors.has(test.inKey))
      );
  }
}

function ancestorsOf(r: CedarRequest, key: string): Set<string> {
  for (const e of r.entities) {
    const uid = toTypeAndId(e.uid);
    if (uidKey(uid) === key) return new Set(e.parents.map((p) => uidKey(toTypeAndId(p))));
  }
  return new Set();
}

type Answer = ReturnType<typeof cedar.statefulIsAuthorized>;
/** What to ask: a preparsed policy set id, or the answer itself (decided without the engine). */
type Plan = { readonly setId: string } | { readonly answer: Answer };

function planFor(fast: FastPath, setId: string, r: CedarRequest, useGuards: boolean): Plan {
  const set = fast.scoped.get(setId);
  if (!set) return { setId };
  const list = set.policies;
  const pKey = uidKey(r.principal);
  const rKey = uidKey(r.resource);
  const pAnc = ancestorsOf(r, pKey);
  const rAnc = ancestorsOf(r, rKey);
  const env = guardEnvOf(r);
  const candidates = useGuards
    ? set.index.candidates(env, { principal: [pKey, ...pAnc], resource: [rKey, ...rAnc] })
    : list.map((_, i) => i);
  const kept: number[] = [];
  let decided = useGuards;
  const permits: string[] = [];
  const forbids: string[] = [];
  for (const i of candidates) {
    const x = list[i] as ScopedPolicy;
    if (!matches(x.principal, pKey, r.principal.type, pAnc)) continue;
    if (!matches(x.resource, rKey, r.resource.type, rAnc)) continue;
    const holds = useGuards ? x.guard(env) : undefined;
    if (holds === false) continue;
    kept.push(i);
    if (holds === undefined || !x.exact) decided = false;
    else (x.effect === 'forbid' ? forbids : permits).push(x.id);
  }
  if (decided) {
    const reason = forbids.length ? forbids : permits;
    const decision = forbids.length || !permits.length ? 'deny' : 'allow';
    return {
      answer: { type: 'success', response: { decision, diagnostics: { reason, errors: [] } }, warnings: [] },
    };
  }
  if (kept.length === list.length) return { setId };
  const key = `${setId}\0${kept.join(',')}`;
  let slot = subsets.get(key);
  if (slot !== undefined) {
    subsets.delete(key);
    subsets.set(key, slot);
    return { setId: slot };
  }
  if (slotsUsed < SUBSET_SLOTS) slot = `ztgate:subset:${slotsUsed++}`;
  else {
    const [oldest, reused] = subsets.entries().next().value as [string, string];
    subsets.delete(oldest);
    slot = reused;
  }
  const policies = Object.create(null) as Record<string, string>;
  for (const i of kept) {
    const x = list[i] as ScopedPolicy;
    policies[x.id] = x.text;
  }
  const ok = cedar.preparsePolicySet(slot, { staticPolicies: policies });
  // On failure the slot is left unused (no key names it) and the whole action set is asked.
  if (ok.type === 'failure') return { setId };
  subsets.set(key, slot);
  return { setId: slot };
}

const run = (r: CedarRequest, plan: Plan): Answer => ('answer' in plan ? plan.answer : ask(r, plan.setId));

const ask = (r: CedarRequest, setId: string): ReturnType<typeof cedar.statefulIsAuthorized> =>
  cedar.statefulIsAuthorized({
    principal: r.principal,
    action: r.action,
    resource: r.resource,
    context: r.context,
    entities: r.entities,
    preparsedPolicySetId: setId,
    validateRequest: false,
  });

interface Evaluated {
  readonly decision: Decision;
  /** The engine produced an answer (not an engine failure): the decision may be cached. */
  readonly answered: boolean;
}

function evaluate(
  bundle: PolicyBundle,
  call: () => ReturnType<typeof cedar.statefulIsAuthorized>,
): Evaluated {
  let answer: ReturnType<typeof cedar.statefulIsAuthorized>;
  try {
    answer = call();
  } catch {
    return { decision: deny(bundle, ['policy.engine_error']), answered: false };
  }
  if (answer.type === 'failure') {
    // The engine refuses requests, contexts and entities that do not match the schema.
    const text = answer.errors.map((e) => e.message).join('; ');
    const code = /not found|not preparsed|no (policy set|schema)/i.test(text)
      ? 'policy.engine_error'
      : 'policy.request_invalid';
    return { decision: deny(bundle, [code]), answered: false };
  }
  const { decision, diagnostics } = answer.response;
  const reasons = [...diagnostics.reason].sort();
  if (diagnostics.errors.length) {
    const ids = [...new Set(diagnostics.errors.map((e) => e.policyId))].sort();
    return {
      decision: deny(
        bundle,
        ids.map((id) => `policy.evaluation_error:${id}`),
        decision === 'deny' ? reasons : [],
      ),
      answered: true,
    };
  }
  if (decision !== 'allow') return { decision: deny(bundle, [], reasons), answered: true };
  const duties: ParsedObligation[] = [];
  for (const id of reasons) duties.push(...(bundle.obligations.get(id) ?? []));
  const merged = mergeObligations(duties);
  if (!merged.ok) return { decision: deny(bundle, [merged.error], reasons), answered: true };
  return {
    decision: {
      effect: 'allow',
      determiningPolicies: reasons,
      obligations: merged.obligations,
      errors: [],
      bundleDigest: bundle.digest,
    },
    answered: true,
  };
}
