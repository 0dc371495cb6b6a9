// The fast path's running check: a sampled share of guarded decisions is re-decided by
// cedar-wasm alone after the answer and compared; `policy.evaluator: cedar` bypasses guards.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Decision, RequestContext } from '../../../src/core/index.js';
import { createCedarDecider, decide, type DecisionInput } from '../../../src/policy/index.js';
import { sameDecision } from '../../../src/policy/cedar-decider.js';
import { bundleOf, CHAT_ON_PREM, input } from './helpers.js';

const BUNDLE = bundleOf(`${CHAT_ON_PREM}
@id("cap") @obligation("max_tokens:100")
permit (principal, action == Ztgate::Action::"chat", resource is Ztgate::Model) when { context.risk >= 5 };
@id("no-secrets") forbid (principal, action, resource) when { context.findings.secretCount > 0 };`);

const ctx = (findings: RequestContext['findings'] = []) =>
  ({
    id: 'r1',
    receivedAt: Date.UTC(2026, 0, 7, 12),
    request: { route: 'chat.completions', body: { model: 'local', messages: [] } },
    principal: {
      kind: 'user',
      id: 'idp#alice',
      issuer: 'idp',
      subject: 'alice',
      authMethod: 'oidc',
      roles: [],
      groups: [],
      attributes: {},
    },
    findings,
    transformations: [],
  }) as unknown as RequestContext;

describe('fast-path verification against cedar-wasm', () => {
  it('re-decides the sampled share with the engine alone and reports agreement', async () => {
    const seen: { agreed: boolean; guarded: Decision; engine: Decision }[] = [];
    let draws = 0;
    const decider = createCedarDecider({
      bundle: () => BUNDLE,
      catalogue: new Map(),
      dataClass: 'internal',
      networkZone: 'corporate',
      verify: {
        sample: 0.5,
        observe: (agreed, _i, guarded, engine) => seen.push({ agreed, guarded, engine }),
      },
      random: () => (draws++ % 2 === 0 ? 0.1 : 0.9),
    });
    const a = await decider(ctx());
    const b = await decider(ctx([{ detector: 'secrets', type: 'SECRET', score: 1 }]));
    await decider(ctx());
    await decider(ctx());
    await new Promise((r) => setImmediate(r));
    assert.equal(a.effect, 'allow');
    assert.equal(b.effect, 'deny');
    assert.equal(seen.length, 2, 'every other decision was sampled');
    assert.ok(seen.every((s) => s.agreed));
    assert.ok(seen.every((s) => sameDecision(s.guarded, s.engine)));
  });

  it('samples nothing with policy.evaluator: cedar (every decision by the engine)', async () => {
    let observed = 0;
    const decider = createCedarDecider({
      bundle: () => BUNDLE,
      catalogue: new Map(),
      dataClass: 'internal',
      networkZone: 'corporate',
      guards: false,
      verify: { sample: 1, observe: () => observed++ },
    });
    assert.equal((await decider(ctx())).effect, 'allow');
    await new Promise((r) => setImmediate(r));
    assert.equal(observed, 0);
  });

  it('guards on and off decide alike, and sameDecision tells differences apart', () => {
    const inputs: DecisionInput[] = [
      input({ risk: 0 }),
      input({ risk: 50 }),
      input({ findings: [{ type: 'SECRET' }] }),
      input({ resource: { type: 'Model', id: 'nope' } }),
    ];
    for (const i of inputs) {
      const fast = decide(i, BUNDLE, undefined, { guards: true });
      const engine = decide(i, BUNDLE, undefined, { guards: false });
      assert.ok(sameDecision(fast, engine), JSON.stringify({ fast, engine }));
    }
    const allow = decide(input({ risk: 50 }), BUNDLE);
    assert.equal(sameDecision(allow, { ...allow, obligations: [] }), false);
    assert.equal(sameDecision(allow, { ...allow, effect: 'deny' }), false);
    assert.equal(sameDecision(allow, { ...allow, determiningPolicies: ['chat'] }), false);
    assert.equal(sameDecision(allow, { ...allow, errors: ['policy.engine_error'] }), false);
  });
});
