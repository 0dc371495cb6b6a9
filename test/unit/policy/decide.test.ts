import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestContext } from '../../../src/core/index.js';
import { createDecider, decide, type ModelAttributes } from '../../../src/policy/index.js';
import { bundleOf, CHAT_ON_PREM, input } from './helpers.js';

describe('decide', () => {
  const bundle = bundleOf(CHAT_ON_PREM);

  it('allows what a permit allows and names the determining policies', () => {
    const d = decide(input(), bundle);
    assert.deepEqual(d, {
      effect: 'allow',
      determiningPolicies: ['chat'],
      obligations: [],
      errors: [],
      bundleDigest: bundle.digest,
    });
  });

  it('denies by default when nothing permits', () => {
    const d = decide(input({ action: 'embed' }), bundle);
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.errors, []);
    assert.deepEqual(d.determiningPolicies, []);
  });

  it('lets a forbid override a permit', () => {
    const b = bundleOf(
      CHAT_ON_PREM +
        '\n@id("no-secrets") forbid (principal, action, resource) when { context.findings.secretCount > 0 };',
    );
    const d = decide(input({ findings: [{ type: 'SECRET', detector: 'secrets', score: 1 }] }), b);
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.determiningPolicies, ['no-secrets']);
  });

  it('fails closed on a policy evaluation error, even when another policy permits', () => {
    const b = bundleOf(
      CHAT_ON_PREM +
        '\n@id("overflow") forbid (principal, action, resource) when { context.risk + 9223372036854775807 > 0 };',
    );
    const d = decide(input({ risk: 10 }), b);
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.errors, ['policy.evaluation_error:overflow']);
  });

  it('fails closed when the engine cannot find the preparsed policy set or schema', () => {
    for (const preparsed of [
      { ...bundle.preparsed, policySetId: 'pset:unknown' },
      { ...bundle.preparsed, schemaName: 'schema:unknown' },
    ]) {
      const d = decide(input(), { ...bundle, preparsed });
      assert.equal(d.effect, 'deny');
      assert.deepEqual(d.errors, ['policy.engine_error']);
    }
  });

  it('fails closed without a principal', () => {
    const { principal: _p, ...rest } = input();
    const d = decide(rest, bundle);
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.errors, ['policy.principal_missing']);
  });

  it('fails closed on missing entity data', () => {
    const cases = [
      input({ resource: { type: 'Model', id: 'nope' } }),
      input({ workspace: 'nope' }),
      input({ action: 'invoke_tool', resource: { type: 'Tool', id: 'nope' } }),
      input({ principal: { kind: 'user', id: '', roles: [], groups: [] } }),
    ];
    for (const c of cases) {
      const d = decide(c, bundle);
      assert.equal(d.effect, 'deny');
      assert.equal(d.errors.length, 1);
      assert.match(d.errors[0] ?? '', /^policy\.entity_missing:/);
    }
  });

  it('fails closed on a request or entity that does not match the schema', () => {
    const cases = [
      input({
        principal: { kind: 'user', id: 'u', roles: [], groups: [], attributes: { clearance: 'top' } },
      }),
      input({ risk: 2.5 }),
      input({ action: 'chat', resource: { type: 'Gateway', id: 'gateway' } }),
    ];
    for (const c of cases) {
      assert.deepEqual(decide(c, bundle).errors, ['policy.request_invalid']);
      assert.equal(decide(c, bundle).effect, 'deny');
    }
  });

  it('merges obligations of the determining permits only, strictest wins', () => {
    const b = bundleOf(`
@id("base") @obligation("max_tokens:4096; pseudonymize:PERSON") @obligation_route("route:region=eu,us")
permit (principal, action == Ztgate::Action::"chat", resource);
@id("eng") @obligation("max_tokens:512; route:region=eu")
permit (principal in Ztgate::Group::"staff", action == Ztgate::Action::"chat", resource);
@id("never") @obligation("require_approval")
permit (principal, action, resource) when { context.risk > 90 };`);
    const d = decide(input(), b);
    assert.equal(d.effect, 'allow');
    assert.deepEqual(d.determiningPolicies, ['base', 'eng'], 'eng applies through eng ∈ staff');
    assert.deepEqual(d.obligations, [
      { kind: 'pseudonymize', value: 'PERSON' },
      { kind: 'route', value: 'region=eu' },
      { kind: 'max_tokens', value: '512' },
    ]);
  });

  it('denies when route obligations leave no region', () => {
    const b = bundleOf(`
@id("eu") @obligation("route:region=eu") permit (principal, action, resource);
@id("us") @obligation("route:region=us") permit (principal, action, resource);`);
    const d = decide(input(), b);
    assert.equal(d.effect, 'deny');
    assert.deepEqual(d.errors, ['policy.route_conflict']);
    assert.deepEqual(d.obligations, []);
  });

  it('takes model attributes from the catalogue before the bundle', () => {
    const cloud: ModelAttributes = {
      provider: 'openai',
      region: 'us',
      runtimeKind: 'cloud',
      attestationKind: 'none',
      attested: false,
      dataClasses: [],
    };
    assert.equal(decide(input(), bundle, new Map([['local', cloud]])).effect, 'deny');
    assert.equal(
      decide(input({ resource: { type: 'Model', id: 'gpt' } }), bundle, new Map([['gpt', cloud]])).effect,
      'deny',
    );
    const onPrem = { ...cloud, runtimeKind: 'on_prem' as const };
    assert.equal(
      decide(input({ resource: { type: 'Model', id: 'gpt' } }), bundle, new Map([['gpt', onPrem]])).effect,
      'allow',
    );
  });

  it('exposes device, workspace, time and findings to policies', () => {
    const b = bundleOf(`
@id("p") permit (principal, action, resource) when {
  context has device && context.device.compliant && context.deviceTrust == "verified" &&
  context has workspace && context.workspace == Ztgate::Workspace::"ws" &&
  context.time.weekday == "wed" && context.time.hour < 18 &&
  context.findings.entityTypes.contains("PERSON") && context.findings.injectionScore == 300
};`);
    const ok = input({
      device: { id: 'd1', trust: 'verified', managed: true, compliant: true },
      workspace: 'ws',
      findings: [
        { type: 'PERSON', score: 0.9 },
        { type: 'PROMPT_INJECTION', score: 0.3 },
      ],
    });
    assert.equal(decide(ok, b).effect, 'allow');
    assert.equal(decide({ ...ok, time: { hour: 20, weekday: 'wed' } }, b).effect, 'deny');
    assert.equal(decide({ ...ok, device: undefined }, b).effect, 'deny');
  });
});

describe('createDecider (placeholder until the engine is wired)', () => {
  it('still allows with a principal and denies without', async () => {
    const decider = createDecider();
    const ctx = { principal: { id: 'x' } } as unknown as RequestContext;
    assert.equal((await decider(ctx)).effect, 'allow');
    assert.equal((await decider({} as RequestContext)).effect, 'deny');
  });
});
