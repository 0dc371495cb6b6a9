// Obligations of an allow are applied or the request is refused: max_tokens caps the answer the
// upstream is asked for, route:region admits only models in the listed regions, and an
// obligation no stage can apply yet (retention, until the ledger keeps prompts) refuses the
// request before anything is sent (fail closed).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const POLICIES = `
@id("capped") @obligation("max_tokens:50")
permit (principal, action == Ztgate::Action::"chat", resource == Ztgate::Model::"capped");
@id("eu-only") @obligation("route:region=eu,eu-west")
permit (principal, action == Ztgate::Action::"chat", resource is Ztgate::Model)
when { resource == Ztgate::Model::"in-eu" || resource == Ztgate::Model::"in-us" || resource == Ztgate::Model::"global" };
@id("anywhere")
permit (principal, action == Ztgate::Action::"chat", resource == Ztgate::Model::"global-open");
@id("approval") @obligation("require_approval")
permit (principal, action == Ztgate::Action::"chat", resource == Ztgate::Model::"guarded");
`;

describe('policy obligations in the gateway', () => {
  let fake: FakeUpstream;
  let bundle: string;
  let t: TestGateway;
  let token: string;
  before(async () => {
    fake = await startFakeUpstream();
    bundle = await mkdtemp(join(tmpdir(), 'ztgate-obligations-'));
    await writeFile(join(bundle, 'policies.cedar'), POLICIES);
    const model = (id: string, region: string) =>
      `  - { id: ${id}, upstream: fake, upstreamModel: m-${id}, attributes: { runtimeKind: on_prem, region: ${region} } }`;
    t = await startTestGateway({
      yaml: `
policy: { bundle: "${bundle}", watch: false }
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${fake.url}", retries: 0 }
  fake-us: { kind: openai-compatible, baseUrl: "${fake.url}", retries: 0, region: us }
  fake-eu: { kind: openai-compatible, baseUrl: "${fake.url}", retries: 0, region: eu-west }
models:
${[model('capped', 'eu'), model('in-eu', 'eu'), model('in-us', 'us'), model('guarded', 'eu')].join('\n')}
  - { id: global, upstream: fake-us, fallbacks: [fake-eu], upstreamModel: m-global }
  - { id: global-open, upstream: fake-us, fallbacks: [fake-eu], upstreamModel: m-global }
`,
    });
    token = await t.token('olga');
  });
  after(async () => {
    await t?.close();
    await fake?.close();
    await rm(bundle, { recursive: true, force: true });
  });

  const ask = (model: string, extra: object = {}) =>
    fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
    });
  const lastBody = () => fake.bodies.at(-1) ?? {};

  it('max_tokens caps what the upstream is asked for, and is audited as a transformation', async () => {
    let res = await ask('capped', { max_tokens: 1000 });
    assert.equal(res.status, 200, await res.text());
    assert.equal(lastBody().max_tokens, 50);
    res = await ask('capped');
    assert.equal(res.status, 200);
    assert.equal(lastBody().max_tokens, 50, 'no limit asked: the cap applies');
    res = await ask('capped', { max_tokens: 10 });
    assert.equal(res.status, 200);
    assert.equal(lastBody().max_tokens, 10, 'a smaller limit is kept');
    res = await ask('capped', { max_completion_tokens: 400 });
    assert.equal(res.status, 200);
    assert.equal(lastBody().max_completion_tokens, 50);
    assert.equal(lastBody().max_tokens, undefined, 'no second limit is invented');
    const rows = (await t.gw.store.audit.list({ limit: 100 })).map((r) => r.entry);
    const capped = rows.filter((e) => e.phase === 'release' && e.modelId === 'capped');
    assert.equal(capped.length, 4);
    assert.deepEqual(capped[0]?.transformations, ['transform:max_tokensx1']);
    assert.deepEqual(capped[0]?.obligations, ['max_tokens:50']);
    assert.deepEqual(capped[2]?.transformations, []);
  });

  it('route:region admits a model in a listed region and refuses another with route_not_permitted', async () => {
    assert.equal((await ask('in-eu')).status, 200);
    const before = fake.total();
    const res = await ask('in-us');
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'route_not_permitted');
    assert.doesNotMatch(body.error.message, /eu-west|in-us/, 'the policy text stays internal');
    assert.equal(fake.total(), before, 'nothing was sent');
  });

  it("residency chooses among runtimes: route:region picks the model's runtime in a listed region", async () => {
    assert.equal((await ask('global')).status, 200);
    assert.equal((await ask('global-open')).status, 200);
    const rows = (await t.gw.store.audit.list({ limit: 200 })).map((r) => r.entry);
    const served = (model: string) => rows.find((e) => e.phase === 'release' && e.modelId === model);
    assert.equal(served('global')?.upstreamId, 'fake-eu', 'the runtime in eu-west, not the first one (us)');
    assert.deepEqual(served('global')?.obligations, ['route:region=eu,eu-west']);
    assert.equal(served('global-open')?.upstreamId, 'fake-us', 'without the obligation: the first runtime');
  });

  it('an obligation no stage can apply refuses the request before anything is sent', async () => {
    const before = fake.total();
    const res = await ask('guarded');
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'obligation_unenforceable');
    assert.equal(fake.total(), before);
    assert.match(t.logs.text(), /require_approval/, 'the unenforced obligation is logged');
  });
});
