import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fastPathOf } from '../../../src/policy/bundle.js';
import * as cedar from '../../../src/policy/cedar.js';
import { setConditionGuards, setDecisionCacheSize } from '../../../src/policy/engine.js';
import type { CedarRequest } from '../../../src/policy/entities.js';
import { buildFastRequest } from '../../../src/policy/fast-request.js';
import {
  buildRequest,
  compileBundle,
  decide,
  defaultSchema,
  POLICY_ACTIONS,
  type DecisionInput,
  type ModelAttributes,
  type ModelCatalogue,
  type PolicyBundle,
} from '../../../src/policy/index.js';

// The fast path calls the engine without the schema and without request validation: the
// request is schema-conforming by construction (src/policy/entities.ts). These properties
// check that claim against the engine's own validator, and that the fast path decides exactly
// as the reference path (full policy set, schema, validateRequest) does.

const ENTITIES = JSON.stringify([
  { uid: { type: 'Ztgate::Group', id: 'eng' }, attrs: {}, parents: [{ type: 'Ztgate::Group', id: 'staff' }] },
  { uid: { type: 'Ztgate::Group', id: 'staff' }, attrs: {}, parents: [{ type: 'Ztgate::Group', id: 'all' }] },
  { uid: { type: 'Ztgate::Group', id: 'all' }, attrs: {}, parents: [] },
  { uid: { type: 'Ztgate::Group', id: 'ops' }, attrs: {}, parents: [] },
  {
    uid: { type: 'Ztgate::Workspace', id: 'ws' },
    attrs: { department: 'eng', residency: 'eu' },
    parents: [],
  },
  { uid: { type: 'Ztgate::Workspace', id: 'ws2' }, attrs: {}, parents: [] },
  {
    uid: { type: 'Ztgate::Tool', id: 'search' },
    attrs: { risk: 'low' },
    parents: [{ type: 'Ztgate::Workspace', id: 'ws' }],
  },
  {
    uid: { type: 'Ztgate::Model', id: 'local' },
    attrs: {
      provider: 'vllm',
      region: 'eu',
      runtimeKind: 'on_prem',
      attestationKind: 'none',
      attested: false,
      dataClasses: ['internal'],
    },
    parents: [{ type: 'Ztgate::Workspace', id: 'ws' }],
  },
]);

const POLICIES = `
@id("chat-staff") @obligation("max_tokens:512")
permit (principal in Ztgate::Group::"staff", action == Ztgate::Action::"chat", resource is Ztgate::Model)
when { resource.runtimeKind == "on_prem" && context.risk < 50 };
@id("embed-ws") permit (principal, action in [Ztgate::Action::"embed", Ztgate::Action::"transcribe"], resource in Ztgate::Workspace::"ws")
when { principal has department && principal.department == "eng" };
@id("tool") permit (principal is Ztgate::User, action == Ztgate::Action::"invoke_tool", resource)
when { resource has risk && resource.risk == "low" && context has workspace && context.workspace has residency && context.workspace.residency == context.residency };
@id("audit") permit (principal in Ztgate::Group::"ops", action == Ztgate::Action::"view_audit", resource);
@id("admin") permit (principal, action, resource) when { principal.roles.contains("admin") && principal has clearance && principal.clearance > 3 };
@id("literal") permit (principal, action, resource) when { Ztgate::Group::"eng" in Ztgate::Group::"all" && principal in Ztgate::Group::"all" && context.time.weekday == "sat" };
@id("literal-ws") forbid (principal, action, resource) when { (Ztgate::Workspace::"ws" has department && Ztgate::Workspace::"ws".department == "fin") || (context has workspace && context.workspace == Ztgate::Workspace::"ws2") };
@id("device") forbid (principal, action, resource) unless { context has device && context.device.compliant && context.device.managed && context.deviceTrust != "none" };
@id("findings") forbid (principal, action, resource) when { context.findings.secretCount > 0 || context.findings.injectionScore >= 800 || context.findings.entityTypes.contains("US_SSN") };
@id("home") forbid (principal, action, resource) when { principal has homeRegion && principal.homeRegion != context.residency && context.networkZone == "public" };
@id("overflow") forbid (principal, action, resource) when { context.risk + 9223372036854775000 > 9223372036854775800 };
@id("models") permit (principal, action == Ztgate::Action::"chat", resource) when { resource has dataClasses && resource.dataClasses.contains(context.findings.dataClass) && resource.attested };
`;

/** Reads few attributes, so most of the request is pruned; uses one context record whole. */
const SPARSE = `
@id("s1") permit (principal in Ztgate::Group::"staff", action == Ztgate::Action::"chat", resource)
when { resource.runtimeKind == "on_prem" && context.risk < 50 };
@id("s2") forbid (principal, action, resource) when { context.time == { hour: 3, weekday: "mon" } };
@id("s3") permit (principal, action, resource) when { principal.roles.contains("admin") };
@id("s4") forbid (principal, action, resource) when { context.findings.secretCount > 0 };
`;

/** 48 policies with every kind of principal and resource scope: exercises scope subsets. */
const SCOPED = Array.from({ length: 48 }, (_, i) => {
  const principal = [
    'principal',
    'principal in Ztgate::Group::"staff"',
    'principal in Ztgate::Group::"ops"',
    'principal == Ztgate::User::"idp#alice"',
    'principal is Ztgate::ServiceAccount',
    'principal is Ztgate::User in Ztgate::Group::"all"',
  ][i % 6];
  const resource = [
    'resource',
    'resource == Ztgate::Model::"local"',
    'resource in Ztgate::Workspace::"ws"',
    'resource is Ztgate::Tool',
    'resource == Ztgate::Model::"cat"',
    'resource is Ztgate::Model in Ztgate::Workspace::"ws2"',
    'resource == Ztgate::Gateway::"gateway"',
    'resource in Ztgate::Workspace::"ws2"',
  ][i % 8];
  const effect = i % 5 === 4 ? 'forbid' : 'permit';
  return `@id("s${i}") ${effect} (${principal}, action, ${resource}) when { context.risk < ${i * 2} };`;
}).join('\n');

/**
 * Policies whose first condition test is `PATH.contains(LITERAL)` or `PATH == LITERAL`: filed
 * by literal in the candidate index (src/policy/policy-index.ts), on sets, strings and Longs of
 * the principal, the resource and the context.
 */
const INDEXED = Array.from({ length: 40 }, (_, i) => {
  const test = [
    `principal.roles.contains("${['admin', 'dev', 'r1'][i % 3]}")`,
    `context.findings.entityTypes.contains("${['PERSON', 'SECRET', 'US_SSN'][i % 3]}")`,
    `context.networkZone == "${['public', 'corporate'][i % 2]}"`,
    `principal.groups.contains("${['eng', 'ghost'][i % 2]}")`,
    `resource.runtimeKind == "${['on_prem', 'cloud'][i % 2]}"`,
    `context.deviceTrust == "${['verified', 'none'][i % 2]}"`,
    `context.risk == ${[3, 4, 50][i % 3]}`,
    `context.findings.dataClass == "${['internal', 'public'][i % 2]}"`,
  ][i % 8];
  const rest = [
    '',
    ' && context.risk < 40',
    ' && context.findings.secretCount > 0',
    ' || context.time.hour > 12',
  ][i % 4];
  const effect = i % 7 === 3 ? 'forbid' : 'permit';
  const principal = i % 5 === 0 ? 'principal in Ztgate::Group::"staff"' : 'principal';
  const scope =
    i % 8 === 4
      ? 'action in [Ztgate::Action::"chat", Ztgate::Action::"embed"], resource is Ztgate::Model'
      : 'action, resource';
  return `@id("x${i}") ${effect} (${principal}, ${scope}) when { ${test}${rest} };`;
}).join('\n');

const compile = (policies: string, reference = false): PolicyBundle => {
  const files = new Map([
    ['p.cedar', policies],
    ['entities.json', ENTITIES],
  ]);
  // Not the shipped schema's text, so the bundle takes the reference path (schema, validation).
  if (reference) files.set('schema.cedarschema', `${defaultSchema()}\n// reference\n`);
  return compileBundle(files);
};
const BUNDLES = [compile(POLICIES), compile(SPARSE), compile(SCOPED), compile(INDEXED)] as const;
const REFERENCE = [
  compile(POLICIES, true),
  compile(SPARSE, true),
  compile(SCOPED, true),
  compile(INDEXED, true),
] as const;
const [bundle] = BUNDLES;

const str = fc.oneof(fc.constantFrom('eu', 'us', 'eng', 'fin', '', 'a"b', 'ü'), fc.string({ maxLength: 6 }));
const long = fc.oneof(fc.integer({ min: -5, max: 120 }), fc.constantFrom(0, 3, 4, 49, 50, 2 ** 40));
const weird = fc.constantFrom<unknown>(2.5, NaN, 2 ** 60, '3', true, null, ['x'], '\ud800', { a: 1 });
const maybeWeird = <T>(arb: fc.Arbitrary<T>, weirdOnes: boolean): fc.Arbitrary<T> =>
  weirdOnes
    ? fc.oneof({ weight: 6, arbitrary: arb }, { weight: 1, arbitrary: weird as fc.Arbitrary<T> })
    : arb;

const model = (w: boolean): fc.Arbitrary<ModelAttributes> =>
  fc.record(
    {
      provider: maybeWeird(str, w),
      region: maybeWeird(str, w),
      runtimeKind: maybeWeird(fc.constantFrom('cloud', 'on_prem') as fc.Arbitrary<'cloud' | 'on_prem'>, w),
      attestationKind: maybeWeird(str, w),
      attested: maybeWeird(fc.boolean(), w),
      dataClasses: fc.array(maybeWeird(fc.constantFrom('public', 'internal', 'confidential'), w), {
        maxLength: 3,
      }),
      workspaces: fc.array(maybeWeird(fc.constantFrom('ws', 'ws2', 'nope'), w), { maxLength: 2 }),
    },
    { requiredKeys: ['provider', 'region', 'runtimeKind', 'attestationKind', 'attested', 'dataClasses'] },
  );

/** Decision inputs; with `w`, now and then a value of the wrong type. */
const inputArb = (w: boolean): fc.Arbitrary<{ input: DecisionInput; catalogue?: ModelCatalogue }> =>
  fc
    .record({
      principal: fc.option(
        fc.record({
          kind: fc.constantFrom('user', 'service') as fc.Arbitrary<'user' | 'service'>,
          id: fc.oneof(
            { weight: 9, arbitrary: fc.constantFrom('idp#alice', 'spiffe://x/y', 'bob') },
            { weight: 1, arbitrary: fc.constant('') },
          ),
          roles: fc.array(maybeWeird(fc.constantFrom('admin', 'dev', 'r1'), w), { maxLength: 3 }),
          groups: fc.array(maybeWeird(fc.constantFrom('eng', 'staff', 'ops', 'ghost'), w), { maxLength: 3 }),
          attributes: fc.record(
            {
              department: maybeWeird(str, w),
              clearance: maybeWeird(long, w),
              homeRegion: maybeWeird(str, w),
              favouriteColour: str,
            },
            { requiredKeys: [] },
          ),
        }),
        { freq: 12 },
      ),
      device: fc.option(
        fc.record({
          id: maybeWeird(fc.constantFrom('d1', 'd2'), w),
          trust: maybeWeird(fc.constantFrom('verified', 'untrusted', 'none'), w),
          managed: maybeWeird(fc.boolean(), w),
          compliant: maybeWeird(fc.boolean(), w),
        }),
        { nil: undefined },
      ),
      action: fc.constantFrom(...POLICY_ACTIONS),
      resource: fc.oneof(
        fc.record({ type: fc.constant('Model' as const), id: fc.constantFrom('local', 'cat', 'nope') }),
        fc.record({ type: fc.constant('Tool' as const), id: fc.constantFrom('search', 'nope') }),
        fc.constant({ type: 'Gateway' as const, id: 'gateway' }),
      ),
      workspace: fc.option(maybeWeird(fc.constantFrom('ws', 'ws2', 'nope'), w), { nil: undefined }),
      findings: fc.array(
        fc.record(
          {
            type: maybeWeird(fc.constantFrom('PERSON', 'SECRET', 'US_SSN', 'PROMPT_INJECTION'), w),
            detector: fc.constantFrom('secrets', 'injection', 'ner'),
            score: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(NaN)),
          },
          { requiredKeys: ['type'] },
        ),
        { maxLength: 4 },
      ),
      dataClass: maybeWeird(fc.constantFrom('public', 'internal', 'confidential'), w),
      risk: maybeWeird(long, w),
      networkZone: maybeWeird(fc.constantFrom('corporate', 'public'), w),
      residency: maybeWeird(fc.constantFrom('eu', 'us'), w),
      time: fc.record({
        hour: maybeWeird(fc.integer({ min: 0, max: 23 }), w),
        weekday: maybeWeird(fc.constantFrom('mon', 'sat'), w),
      }),
      catalogue: fc.option(model(w), { nil: undefined }),
    })
    .map(({ principal, catalogue, device, workspace, ...rest }) => {
      const input = {
        ...rest,
        ...(principal === null ? {} : { principal }),
        ...(device === undefined ? {} : { device }),
        ...(workspace === undefined ? {} : { workspace }),
      } as DecisionInput;
      return catalogue ? { input, catalogue: new Map([['cat', catalogue]]) } : { input };
    });

const fast = fastPathOf(bundle);

function ask(
  bundle: PolicyBundle,
  r: CedarRequest,
  policySetId: string,
  validate: boolean,
): ReturnType<typeof cedar.statefulIsAuthorized> {
  return cedar.statefulIsAuthorized({
    principal: r.principal,
    action: r.action,
    resource: r.resource,
    context: r.context,
    entities: r.entities,
    preparsedPolicySetId: policySetId,
    ...(validate
      ? { preparsedSchemaName: bundle.preparsed.schemaName, validateRequest: true }
      : { validateRequest: false }),
  });
}

const outcome = (a: ReturnType<typeof cedar.statefulIsAuthorized>): unknown =>
  a.type === 'failure'
    ? 'failure'
    : {
        decision: a.response.decision,
        reason: [...a.response.diagnostics.reason].sort(),
        errors: [...new Set(a.response.diagnostics.errors.map((e) => e.policyId))].sort(),
      };

function check({ input, catalogue }: { input: DecisionInput; catalogue?: ModelCatalogue }, w: boolean): void {
  assert.ok(fast);
  const f = buildFastRequest(input, fast.index, catalogue);
  const ref = buildRequest(input, bundle.entities, catalogue);
  if (f.ok === false) {
    assert.deepEqual(ref, f, 'same error as the reference builder');
    return;
  }
  if (f.ok === 'fallback') {
    const expected =
      input.action === 'chat' || input.action === 'embed' || input.action === 'transcribe'
        ? 'Model'
        : input.action === 'invoke_tool'
          ? 'Tool'
          : 'Gateway';
    assert.ok(w || input.resource.type !== expected, 'well-typed inputs never fall back');
    return;
  }
  assert.ok(ref.ok, 'the reference builder accepts it too');
  // The engine's validator agrees the request, before pruning, conforms to the shipped schema.
  const whole = buildFastRequest(input, fast.index, catalogue, false);
  assert.equal(whole.ok, true);
  assert.ok(whole.ok === true);
  const validated = ask(bundle, whole.request, bundle.preparsed.policySetId, true);
  assert.equal(validated.type, 'success', JSON.stringify(validated));
  // …and the fast path (action subset, no schema) decides as the reference path does.
  const setId = fast.actionSets.get(input.action) ?? '';
  assert.deepEqual(
    outcome(ask(bundle, f.request, setId, false)),
    outcome(ask(bundle, ref.request, bundle.preparsed.policySetId, true)),
  );
  assert.deepEqual(outcome(validated), outcome(ask(bundle, ref.request, bundle.preparsed.policySetId, true)));
}

describe('fast path conformance (shipped schema)', () => {
  it('applies to bundles on the shipped schema only', () => {
    assert.ok(fast);
    assert.equal(
      fastPathOf({ ...bundle, preparsed: { ...bundle.preparsed, schemaName: 'schema:x' } }),
      undefined,
    );
  });

  it('builds requests the engine validator accepts, deciding as the reference path', () => {
    fc.assert(
      fc.property(inputArb(false), (c) => check(c, false)),
      { numRuns: 400 },
    );
  });

  it('never sends a value of the wrong type: it errs like the reference or falls back', () => {
    fc.assert(
      fc.property(inputArb(true), (c) => check(c, true)),
      { numRuns: 400 },
    );
  });

  it('decide on the fast path gives the Decision of the reference path', () => {
    assert.equal(fastPathOf(REFERENCE[0]), undefined);
    setDecisionCacheSize(0);
    fc.assert(
      fc.property(inputArb(true), ({ input, catalogue }) => {
        BUNDLES.forEach((b, i) => {
          const { bundleDigest: _f, ...fastDecision } = decide(input, b, catalogue);
          const { bundleDigest: _r, ...reference } = decide(input, REFERENCE[i] as PolicyBundle, catalogue);
          assert.deepEqual(fastDecision, reference);
        });
      }),
      { numRuns: 400 },
    );
    setDecisionCacheSize();
  });

  it('decides the same with condition guards off (every decision by the engine)', () => {
    setDecisionCacheSize(0);
    fc.assert(
      fc.property(inputArb(true), ({ input, catalogue }) => {
        for (const b of BUNDLES) {
          const guarded = decide(input, b, catalogue);
          setConditionGuards(false);
          const engine = decide(input, b, catalogue);
          setConditionGuards(true);
          assert.deepEqual(guarded, engine);
        }
      }),
      { numRuns: 300 },
    );
    setDecisionCacheSize();
  });

  it('decide gives the same Decision with and without the decision cache', () => {
    fc.assert(
      fc.property(inputArb(true), ({ input, catalogue }) => {
        setDecisionCacheSize(0);
        const cold = decide(input, bundle, catalogue);
        setDecisionCacheSize(100);
        const first = decide(input, bundle, catalogue);
        const second = decide(input, bundle, catalogue);
        assert.deepEqual(first, cold);
        assert.deepEqual(second, cold);
      }),
      { numRuns: 200 },
    );
    setDecisionCacheSize();
  });
});
