// A shadow bundle beside the live one: evaluated after every live decision and never enforced.
// Requests it would deny are still served; each comparison is counted, each difference is kept
// (with both decisions' determining policies) and logged; editing the shadow bundle reloads it
// and starts the list afresh.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadBundle } from '../../src/policy/index.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { eventually } from '../helpers/mesh.js';

const DEFAULT_BUNDLE = fileURLToPath(new URL('../../examples/policies/default', import.meta.url));
const FORBID_B =
  '\n@id("forbid-model-b")\nforbid (principal, action, resource == Ztgate::Model::"model-b");\n';

describe('shadow policy bundle', () => {
  let fake: FakeUpstream;
  let root: string;
  let shadowDir: string;
  let t: TestGateway;
  let token: string;
  before(async () => {
    fake = await startFakeUpstream();
    root = await mkdtemp(join(tmpdir(), 'ztgate-policy-shadow-'));
    shadowDir = join(root, 'shadow');
    await cp(DEFAULT_BUNDLE, shadowDir, { recursive: true });
    await writeFile(
      join(shadowDir, 'policies.cedar'),
      (await readFile(join(shadowDir, 'policies.cedar'), 'utf8')) + FORBID_B,
    );
    t = await startTestGateway({
      yaml: `
policy: { shadow: "${shadowDir}" }
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${fake.url}", retries: 0 }
models:
  - { id: model-a, upstream: fake, upstreamModel: fake-model, attributes: { runtimeKind: on_prem, region: eu } }
  - { id: model-b, upstream: fake, upstreamModel: fake-model, attributes: { runtimeKind: on_prem, region: eu } }
`,
    });
    token = await t.token('erin');
  });
  after(async () => {
    await t?.close();
    await fake?.close();
    await rm(root, { recursive: true, force: true });
  });

  const ask = async (model: string) => {
    const res = await fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.body?.cancel();
    return { status: res.status, requestId: res.headers.get('x-request-id') };
  };
  const shadowCount = async (outcome: string): Promise<number> => {
    const text = await t.gw.metrics.registry.metrics();
    const m = new RegExp(`^ztgate_policy_shadow_decisions_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(
      text,
    );
    return Number(m?.[1] ?? 0);
  };

  it('reports both bundles; the live one is the built-in', async () => {
    const status = t.gw.policy.status();
    assert.equal(status.live.builtin, true);
    assert.equal(status.live.source, 'builtin');
    assert.equal(status.shadow?.builtin, false);
    assert.equal(status.shadow?.source, shadowDir);
    assert.equal(status.shadow?.digest, (await loadBundle(shadowDir)).digest);
    assert.notEqual(status.shadow?.digest, status.live.digest);
    const metrics = await t.gw.metrics.registry.metrics();
    assert.match(
      metrics,
      new RegExp(`ztgate_policy_bundle_info\\{bundle="live",digest="${status.live.digest}"\\} 1`),
    );
    assert.match(
      metrics,
      new RegExp(`ztgate_policy_bundle_info\\{bundle="shadow",digest="${status.shadow?.digest}"\\} 1`),
    );
  });

  it('a request the shadow would deny is served; the difference is counted and kept', async () => {
    const before = await shadowCount('allow_to_deny');
    const served = await ask('model-b');
    assert.equal(served.status, 200, 'the shadow is never enforced');
    await eventually(async () => (await shadowCount('allow_to_deny')) === before + 1);
    const [difference] = t.gw.policy.shadowDifferences(10);
    assert.ok(difference);
    assert.equal(difference.requestId, served.requestId);
    assert.equal(difference.change, 'allow_to_deny');
    assert.equal(difference.action, 'chat');
    assert.equal(difference.resource, 'Model::model-b');
    assert.ok(difference.principalId);
    assert.equal(difference.live.effect, 'allow');
    assert.deepEqual(difference.live.determiningPolicies, ['allow-accepted-data-class']);
    assert.equal(difference.live.bundleDigest, t.gw.policy.status().live.digest);
    assert.equal(difference.shadow.effect, 'deny');
    assert.deepEqual(difference.shadow.determiningPolicies, ['forbid-model-b']);
    assert.equal(difference.shadow.bundleDigest, t.gw.policy.status().shadow?.digest);
    assert.match(t.logs.text(), /shadow bundle would decide differently: allow_to_deny/);

    // The audited decision is the live one.
    const rows = (await t.gw.store.audit.list({ limit: 100 })).map((r) => r.entry);
    const audited = rows.find((e) => e.requestId === served.requestId && e.phase === 'release');
    assert.equal(audited?.decision, 'allow');
    assert.equal(audited?.bundleDigest, t.gw.policy.status().live.digest);
  });

  it('a request both bundles allow is counted as the same and not kept', async () => {
    const before = await shadowCount('same');
    const kept = t.gw.policy.shadowDifferences(1000).length;
    assert.equal((await ask('model-a')).status, 200);
    await eventually(async () => (await shadowCount('same')) === before + 1);
    assert.equal(t.gw.policy.shadowDifferences(1000).length, kept);
  });

  it('newest first, and at most `limit`', async () => {
    const first = await ask('model-b');
    const second = await ask('model-b');
    await eventually(() => t.gw.policy.shadowDifferences(1)[0]?.requestId === second.requestId);
    assert.deepEqual(
      t.gw.policy.shadowDifferences(2).map((d) => d.requestId),
      [second.requestId, first.requestId],
    );
    assert.equal(t.gw.policy.shadowDifferences(1).length, 1);
  });

  it('without admin mutual TLS the shadow list is not served (401)', async () => {
    const res = await fetch(`${t.gw.adminUrl}/admin/policy/shadow`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'admin_unauthenticated');
  });

  it('editing the shadow bundle reloads it (watch) and clears the differences', async () => {
    assert.ok(t.gw.policy.shadowDifferences(10).length > 0);
    const liveDigest = t.gw.policy.status().live.digest;
    await writeFile(
      join(shadowDir, 'policies.cedar'),
      await readFile(join(DEFAULT_BUNDLE, 'policies.cedar')),
    );
    const edited = (await loadBundle(shadowDir)).digest;
    await eventually(() => t.gw.policy.status().shadow?.digest === edited, 8000);
    assert.equal(t.gw.policy.status().shadow?.lastReload?.trigger, 'watch');
    assert.equal(t.gw.policy.status().live.digest, liveDigest, 'the live bundle is untouched');
    assert.deepEqual(t.gw.policy.shadowDifferences(10), []);

    // The same request is now decided alike by both.
    const same = await shadowCount('same');
    const differed = await shadowCount('allow_to_deny');
    assert.equal((await ask('model-b')).status, 200);
    await eventually(async () => (await shadowCount('same')) === same + 1);
    assert.equal(await shadowCount('allow_to_deny'), differed);
    assert.deepEqual(t.gw.policy.shadowDifferences(10), []);
    const rows = (await t.gw.store.audit.list({ limit: 200 })).map((r) => r.entry);
    const reload = rows.find((e) => e.action === 'policy.reload' && e.target === `policy:shadow:${edited}`);
    assert.ok(reload?.transformations.includes('bundle:shadow'));
    assert.ok(reload?.transformations.includes('trigger:watch'));
  });
});
