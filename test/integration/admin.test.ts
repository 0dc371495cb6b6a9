import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/** The admin listener tells liveness from readiness, and names the dependency that fails. */
describe('admin listener', () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({
      yaml: `
upstreams:
  gone: { kind: openai-compatible, baseUrl: "http://127.0.0.1:1/v1", retries: 0, timeouts: { connectMs: 200 } }
models:
  - { id: gone-model, upstream: gone, upstreamModel: x }
`,
    });
  });
  after(() => t.close());

  it('healthz answers while the process runs', async () => {
    const res = await fetch(`${t.gw.adminUrl}/healthz`);
    assert.equal(res.status, 200);
  });

  it('readyz is 503 and names the upstream that does not answer; the others are ok', async () => {
    const res = await fetch(`${t.gw.adminUrl}/readyz`);
    const body = (await res.json()) as { status: string; checks: Record<string, string> };
    assert.equal(res.status, 503);
    assert.equal(body.status, 'not_ready');
    assert.equal(body.checks['upstream:gone'], 'failing');
    assert.equal(body.checks['upstream:demo'], 'ok');
    assert.equal(body.checks['store:sqlite'], 'ok');
    assert.equal(body.checks['bus:memory'], 'ok');
    assert.equal(body.checks[`issuer:${t.gw.demoIssuer}`], 'ok');
  });

  it('a request to the unreachable upstream is refused with upstream_unavailable (502)', async () => {
    const res = await fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await t.token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gone-model', messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'upstream_unavailable');
  });

  it('metrics are Prometheus text and every name is prefixed ztgate_', async () => {
    const res = await fetch(`${t.gw.adminUrl}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const names = (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('# TYPE '))
      .map((l) => l.split(' ')[2]!);
    assert.ok(names.length >= 7);
    assert.deepEqual(
      names.filter((n) => !n.startsWith('ztgate_')),
      [],
    );
  });
});
