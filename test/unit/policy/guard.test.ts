import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as cedar from '../../../src/policy/cedar.js';
import type { CedarValueJson, EntityJson } from '../../../src/policy/cedar.js';
import type { CedarRequest } from '../../../src/policy/entities.js';
import { compileGuard, guardEnvOf } from '../../../src/policy/guard.js';

// The guard's INVARIANT (src/policy/guard.ts): when it answers true or false, the engine
// evaluates the same conditions on the same request to that value, without an error. Checked
// on generated conditions (in and outside the fragment, with values of unexpected types, missing
// attributes and entities) against the engine itself, with no schema and no validation.

const value: fc.Arbitrary<CedarValueJson> = fc.oneof(
  fc.constantFrom('eu', 'us', '', 'a"b'),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(2 ** 40, -(2 ** 40)),
  fc.boolean(),
  fc.array(fc.oneof(fc.constantFrom('eu', 'x'), fc.integer({ min: 0, max: 2 })), { maxLength: 3 }),
  fc.constant({ __entity: { type: 'Ztgate::Device', id: 'd1' } }),
  fc.constant({ __entity: { type: 'Ztgate::Device', id: 'ghost' } }),
  fc.record({ x: fc.constantFrom('eu', 1, true) as fc.Arbitrary<CedarValueJson> }, { requiredKeys: [] }),
  fc.constant({ __extn: { fn: 'decimal', arg: '1.5' } }),
);

/** Attributes a, b, n, s, rec, d of their usual type, now and then missing or of another type. */
const usual = <T extends CedarValueJson>(arb: fc.Arbitrary<T>): fc.Arbitrary<CedarValueJson> =>
  fc.oneof({ weight: 8, arbitrary: arb as fc.Arbitrary<CedarValueJson> }, { weight: 1, arbitrary: value });
const attrs: fc.Arbitrary<Record<string, CedarValueJson>> = fc.record(
  {
    a: usual(fc.constantFrom('eu', 'x')),
    b: usual(fc.boolean()),
    n: usual(fc.integer({ min: -2, max: 2 })),
    s: usual(fc.array(fc.oneof(fc.constantFrom('eu', 'x'), fc.constantFrom(1)), { maxLength: 3 })),
    rec: usual(fc.record({ x: fc.constantFrom<CedarValueJson>('eu', 1) }, { requiredKeys: [] })),
    d: usual(fc.constantFrom({ __entity: { type: 'Ztgate::Device', id: 'd1' } })),
  },
  { requiredKeys: [] },
);

const atom = fc.oneof(
  fc.constantFrom(
    'context',
    'principal',
    'resource',
    'Ztgate::Device::"d1"',
    'Ztgate::Device::"ghost"',
    'Ztgate::Group::"eng"',
    '"eu"',
    '"x"',
    '0',
    '1',
    '2',
    '-1',
    '9223372036854775807',
    'true',
    'false',
    '[]',
    '["eu", "x"]',
    '[0, 1]',
    '{ x: "eu" }',
  ),
  fc
    .tuple(
      fc.constantFrom('context', 'principal', 'resource', 'context.rec', 'context.a', 'context.d'),
      fc.constantFrom('a', 'b', 'n', 's', 'rec', 'x', 'd', 'managed'),
    )
    .map(([l, a]) => `${l}.${a}`),
);

const { expr } = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atom,
    fc
      .tuple(
        tie('expr'),
        fc.constantFrom('==', '!=', '<', '<=', '>', '>=', '&&', '||', '+', 'in', 'like "e*"'),
        tie('expr'),
      )
      .map(([l, op, r]) => (op.startsWith('like') ? `(${l} ${op})` : `(${l} ${op} ${r})`)),
    fc
      .tuple(tie('expr'), fc.constantFrom('contains', 'containsAll', 'containsAny'), tie('expr'))
      .map(([l, m, r]) => `${l}.${m}(${r})`),
    tie('expr').map((e) => `(!${e})`),
    fc
      .tuple(tie('expr'), fc.constantFrom('a', 'b', 'rec', 'rec.x', 'd', 'managed'))
      .map(([e, a]) => `(${e} has ${a})`),
    fc.tuple(tie('expr'), tie('expr'), tie('expr')).map(([c, t, e]) => `(if ${c} then ${t} else ${e})`),
    fc.tuple(tie('expr'), tie('expr')).map(([a, b]) => `[${a}, ${b}]`),
  ),
}));

/** Mostly well-typed boolean conditions, so that many are decided; now and then anything. */
const str = fc.constantFrom('"eu"', '"x"', 'context.a', 'principal.a', 'resource.a', 'context.rec.x');
const num = fc.constantFrom('0', '1', '-1', 'context.n', 'principal.n', 'resource.n', 'context.rec.x');
const set = fc.constantFrom('context.s', 'principal.s', '["eu", 1]', '[]', '[context.a, "x"]');
const { cond } = fc.letrec<{ cond: string }>((tie) => ({
  cond: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('true', 'false', 'context.b', 'principal.b', 'context.d.managed'),
    fc.tuple(str, fc.constantFrom('==', '!='), str).map(([l, o, r]) => `${l} ${o} ${r}`),
    fc.tuple(num, fc.constantFrom('==', '<', '<=', '>', '>='), num).map(([l, o, r]) => `${l} ${o} ${r}`),
    fc.tuple(set, str).map(([l, r]) => `${l}.contains(${r})`),
    fc.tuple(set, fc.constantFrom('containsAll', 'containsAny'), set).map(([l, m, r]) => `${l}.${m}(${r})`),
    fc
      .tuple(
        fc.constantFrom('context', 'principal', 'context.rec', 'context.d'),
        fc.constantFrom('a', 'b', 'x'),
      )
      .map(([l, a]) => `${l} has ${a}`),
    fc.constantFrom(
      'context.d == Ztgate::Device::"d1"',
      'principal == Ztgate::User::"u"',
      'context.d == "x"',
    ),
    fc
      .tuple(
        fc.constantFrom(
          'principal',
          'resource',
          'context.d',
          'Ztgate::Group::"eng"',
          'Ztgate::Group::"all"',
          '"x"',
        ),
        fc.constantFrom(
          'in Ztgate::Group::"eng"',
          'in Ztgate::Group::"all"',
          'in Ztgate::Group::"ops"',
          'in [Ztgate::Group::"ops", Ztgate::Group::"all"]',
          'in []',
          'in ["x"]',
          'in context.d',
          'is Ztgate::User',
          'is Ztgate::Device',
          'is Ztgate::Group in Ztgate::Group::"all"',
          'is Ztgate::User in [Ztgate::Group::"all"]',
        ),
      )
      .map(([l, t]) => `(${l} ${t})`),
    fc.tuple(tie('cond'), fc.constantFrom('&&', '||'), tie('cond')).map(([l, o, r]) => `(${l} ${o} ${r})`),
    tie('cond').map((e) => `!(${e})`),
    fc.tuple(tie('cond'), tie('cond'), tie('cond')).map(([c, t, e]) => `(if ${c} then ${t} else ${e})`),
    expr,
  ),
}));

const clause = fc.tuple(fc.constantFrom('when', 'unless'), cond).map(([k, e]) => `${k} { ${e} }`);

function request(
  context: Record<string, CedarValueJson>,
  p: Record<string, CedarValueJson>,
  d: Record<string, CedarValueJson>,
): CedarRequest {
  const entities: EntityJson[] = [
    { uid: { type: 'Ztgate::User', id: 'u' }, attrs: p, parents: [{ type: 'Ztgate::Group', id: 'eng' }] },
    { uid: { type: 'Ztgate::Model', id: 'm' }, attrs: { a: 'eu', n: 1 }, parents: [] },
    { uid: { type: 'Ztgate::Device', id: 'd1' }, attrs: d, parents: [] },
    { uid: { type: 'Ztgate::Group', id: 'eng' }, attrs: {}, parents: [{ type: 'Ztgate::Group', id: 'all' }] },
  ];
  return {
    principal: { type: 'Ztgate::User', id: 'u' },
    action: { type: 'Ztgate::Action', id: 'chat' },
    resource: { type: 'Ztgate::Model', id: 'm' },
    context,
    entities,
  };
}

describe('condition guards', () => {
  it('answer true or false only as the engine evaluates, without errors', () => {
    let decidedCount = 0;
    let runs = 0;
    fc.assert(
      fc.property(
        fc.array(clause, { minLength: 1, maxLength: 2 }),
        attrs,
        attrs,
        attrs,
        (clauses, ctx, p, d) => {
          const text = `permit (principal, action, resource) ${clauses.join(' ')};`;
          const json = cedar.policyToJson(text);
          fc.pre(json.type === 'success');
          if (json.type !== 'success') return;
          const r = request(ctx, p, d);
          const held = compileGuard(json.json.conditions)(guardEnvOf(r));
          if (held === undefined) return;
          const prepared = cedar.preparsePolicySet('guard-test', { staticPolicies: { p: text } });
          fc.pre(prepared.type === 'success');
          const answer = cedar.statefulIsAuthorized({
            principal: r.principal,
            action: r.action,
            resource: r.resource,
            context: r.context,
            entities: r.entities,
            preparsedPolicySetId: 'guard-test',
            validateRequest: false,
          });
          // A request the engine refuses outright (e.g. a malformed extension value) is fine: the
          // fast path never builds one, and the engine would deny it either way.
          if (answer.type === 'failure') return;
          runs++;
          if (held) decidedCount++;
          assert.deepEqual(
            {
              decision: answer.response.decision,
              reason: answer.response.diagnostics.reason,
              errors: answer.response.diagnostics.errors.length,
            },
            held
              ? { decision: 'allow', reason: ['p'], errors: 0 }
              : { decision: 'deny', reason: [], errors: 0 },
            text,
          );
        },
      ),
      { numRuns: 1500 },
    );
    assert.ok(runs > 500, `enough decided cases (${runs})`);
    assert.ok(decidedCount > 100, `some true cases (${decidedCount})`);
  });
});
