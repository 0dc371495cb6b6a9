import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEntry, RequestContext } from '../../../src/core/index.js';
import {
  createCedarDecider,
  decide,
  decisionRowOf,
  RECORDED_INPUT_VERSION,
  recordDecisionInput,
  simulate,
  type DecisionInput,
  type ModelAttributes,
  type PolicyBundle,
  type RecordedDecisionRow,
} from '../../../src/policy/index.js';
import { bundleOf, CHAT_ON_PREM, input } from './helpers.js';

const CLOUD: ModelAttributes = {
  provider: 'openai',
  region: 'us',
  runtimeKind: 'cloud',
  attestationKind: 'none',
  attested: false,
  dataClasses: ['public'],
};
const catalogue = new Map([['gpt', CLOUD]]);

// Baseline: on-prem chat allowed; cloud denied. Candidate: anyone may chat with any model,
// except the `blocked` role; users with the `capped` role get a token cap on on-prem models.
const BASELINE = bundleOf(CHAT_ON_PREM);
const CANDIDATE = bundleOf(`
@id("chat-any")
permit (principal is Ztgate::User, action == Ztgate::Action::"chat", resource is Ztgate::Model)
unless { principal.roles.contains("capped") };
@id("chat-capped")
@obligation("max_tokens:100")
permit (principal is Ztgate::User, action == Ztgate::Action::"chat", resource is Ztgate::Model)
when { principal.roles.contains("capped") };
@id("forbid-blocked")
forbid (principal, action, resource) when { principal.roles.contains("blocked") };`);

let n = 0;
/** A row as the gateway records it: decided by `bundle` from `decisionInput`. */
function rowOf(decisionInput: DecisionInput, bundle: PolicyBundle = BASELINE): RecordedDecisionRow {
  const d = decide(decisionInput, bundle, catalogue);
  return {
    seq: ++n,
    requestId: `req-${n}`,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    effect: d.effect,
    obligations: d.obligations.map((o) => `${o.kind}:${o.value}`),
    determiningPolicies: d.determiningPolicies,
    input: recordDecisionInput(decisionInput, catalogue),
  };
}

const principal = (id: string, roles: string[]) => ({
  kind: 'user' as const,
  id,
  roles,
  groups: ['eng'],
  attributes: {},
});

describe('simulate', () => {
  it('sorts every replayed decision into one category, with examples', () => {
    const unchanged = rowOf(input());
    const capped = rowOf(input({ principal: principal('idp#carol', ['capped']) }));
    const blocked = rowOf(input({ principal: principal('idp#bob', ['blocked']) }));
    const cloud = rowOf(input({ resource: { type: 'Model', id: 'gpt' } }));
    assert.equal(cloud.effect, 'deny');
    const report = simulate([unchanged, capped, blocked, cloud], CANDIDATE);
    assert.deepEqual(
      {
        total: report.total,
        unchanged: report.unchanged,
        allowedToDenied: report.allowedToDenied,
        deniedToAllowed: report.deniedToAllowed,
        obligationsChanged: report.obligationsChanged,
        skipped: report.skipped,
      },
      { total: 4, unchanged: 1, allowedToDenied: 1, deniedToAllowed: 1, obligationsChanged: 1, skipped: 0 },
    );
    assert.equal(report.bundleDigest, CANDIDATE.digest);
    assert.deepEqual(report.examples.allowedToDenied, [
      {
        requestId: blocked.requestId,
        time: blocked.time,
        principalId: 'idp#bob',
        action: 'chat',
        resource: 'Model::local',
        before: { effect: 'allow', determiningPolicies: ['chat'], obligations: [] },
        after: { effect: 'deny', determiningPolicies: ['forbid-blocked'], obligations: [], errors: [] },
      },
    ]);
    assert.deepEqual(
      report.examples.obligationsChanged.map((e) => [
        e.requestId,
        e.after.obligations,
        e.after.determiningPolicies,
      ]),
      [[capped.requestId, ['max_tokens:100'], ['chat-capped']]],
    );
    const [opened] = report.examples.deniedToAllowed;
    assert.equal(opened?.requestId, cloud.requestId);
    assert.equal(opened?.resource, 'Model::gpt');
    assert.deepEqual(opened?.after.determiningPolicies, ['chat-any']);
  });

  it('decides with the recorded model attributes, not the bundle entities or a later catalogue', () => {
    // The recorded snapshot says `local` is a cloud model; the bundle's entities say on_prem.
    const recorded = { ...recordDecisionInput(input(), new Map([['local', CLOUD]])) };
    const row: RecordedDecisionRow = { ...rowOf(input()), input: recorded };
    assert.equal(row.effect, 'allow');
    const report = simulate([row], BASELINE);
    assert.equal(report.allowedToDenied, 1, 'the snapshot (cloud) decides');
    // Without a snapshot, the candidate bundle's own entities describe the model.
    const { model: _model, ...withoutModel } = recorded;
    assert.equal(simulate([{ ...row, input: withoutModel }], BASELINE).unchanged, 1);
  });

  it('counts obligations as a set, and a deny that stays a deny as unchanged', () => {
    const capped = rowOf(input({ principal: principal('idp#carol', ['capped']) }), CANDIDATE);
    assert.deepEqual(capped.obligations, ['max_tokens:100']);
    const denied = rowOf(input({ principal: principal('idp#bob', ['blocked']) }), CANDIDATE);
    const other = bundleOf(`@id("nothing") forbid (principal, action, resource);`);
    const report = simulate([capped, denied], CANDIDATE);
    assert.equal(report.unchanged, 2);
    assert.equal(simulate([denied], other).unchanged, 1, 'other determining policies: still unchanged');
  });

  it('skips rows without input, of an unknown version, or malformed; and counts a request once', () => {
    const ok = rowOf(input());
    const { input: _input, ...legacy } = rowOf(input());
    const future = { ...rowOf(input()), input: { version: RECORDED_INPUT_VERSION + 1, anything: true } };
    const malformed = { ...rowOf(input()), input: { version: RECORDED_INPUT_VERSION, action: 'fly' } };
    const report = simulate([ok, legacy, future, malformed, { ...ok, seq: 99 }], CANDIDATE);
    assert.equal(report.total, 4, 'the second row of req ok is the same request');
    assert.equal(report.skipped, 3);
    assert.deepEqual(report.skippedReasons, { noInput: 1, unknownVersion: 1, invalid: 1 });
    assert.equal(report.unchanged, 1);
  });

  it('keeps at most N examples per category, in recorded order', () => {
    const rows = Array.from({ length: 4 }, () =>
      rowOf(input({ principal: principal('idp#x', ['blocked']) })),
    );
    const report = simulate(rows, CANDIDATE, { examples: 2 });
    assert.equal(report.allowedToDenied, 4);
    assert.deepEqual(
      report.examples.allowedToDenied.map((e) => e.requestId),
      rows.slice(0, 2).map((r) => r.requestId),
    );
    assert.deepEqual(simulate(rows, CANDIDATE, { examples: 0 }).examples.allowedToDenied, []);
  });

  it('reads rows from audit entries: data-plane decisions only', () => {
    const row = rowOf(input());
    const entry = {
      requestId: row.requestId,
      time: row.time,
      phase: 'release',
      decision: 'allow',
      obligations: [],
      determiningPolicies: ['chat'],
      decisionInput: row.input,
    } as unknown as AuditEntry;
    assert.deepEqual(decisionRowOf(7, entry), { ...row, seq: 7 });
    assert.equal(decisionRowOf(8, { ...entry, phase: 'control' }), undefined);
    assert.equal(decisionRowOf(9, { ...entry, decision: null }), undefined);
  });
});

describe('recorded decision input', () => {
  it('the Cedar decider attaches it to allows and denies: plain data, no tokens or text locations', async () => {
    const decider = createCedarDecider({
      bundle: () => BASELINE,
      catalogue,
      dataClass: 'internal',
      networkZone: 'corporate',
      now: () => 0,
    });
    const ctx = (model: string) =>
      ({
        id: 'r1',
        receivedAt: Date.UTC(2026, 0, 7, 12),
        request: {
          route: 'chat.completions',
          body: { model, messages: [{ role: 'user', content: 'secret' }] },
        },
        credentials: { bearer: 'TOKEN-VALUE', headers: {}, remoteAddress: undefined },
        principal: {
          kind: 'user',
          id: 'idp#alice',
          issuer: 'idp',
          subject: 'alice',
          authMethod: 'oidc',
          roles: ['dev'],
          groups: ['eng'],
          email: 'alice@example.com',
          sessionId: 'sess-1',
          attributes: { homeRegion: 'eu' },
        },
        findings: [
          { detector: 'pii', type: 'EMAIL_ADDRESS', score: 0.9, location: { message: 0, start: 1, end: 5 } },
        ],
        transformations: [],
      }) as unknown as RequestContext;
    const allowed = await decider(ctx('local'));
    const denied = await decider(ctx('gpt'));
    assert.equal(allowed.effect, 'allow');
    assert.equal(denied.effect, 'deny');
    assert.deepEqual(denied.input, {
      version: RECORDED_INPUT_VERSION,
      principal: {
        kind: 'user',
        id: 'idp#alice',
        roles: ['dev'],
        groups: ['eng'],
        attributes: { homeRegion: 'eu' },
      },
      action: 'chat',
      resource: { type: 'Model', id: 'gpt' },
      findings: [{ type: 'EMAIL_ADDRESS', detector: 'pii', score: 0.9 }],
      dataClass: 'internal',
      risk: 0,
      networkZone: 'corporate',
      residency: 'eu',
      time: { hour: 12, weekday: 'wed' },
      model: CLOUD,
    });
    assert.equal(allowed.input?.model, undefined, 'a model the catalogue does not know has no snapshot');
    const text = JSON.stringify([allowed.input, denied.input]);
    for (const leak of ['TOKEN-VALUE', 'secret', 'alice@example.com', 'sess-1', 'location'])
      assert.ok(!text.includes(leak), leak);
    // The record replays to the same decision.
    assert.equal(
      simulate([{ ...rowOf(input()), effect: 'deny', input: denied.input }], BASELINE).unchanged,
      1,
    );
  });
});
