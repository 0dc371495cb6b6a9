import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newSvid, workloadId } from '../../src/mesh/index.js';
import { meshHome, SoftCa, startMeshGateway, TD, type MeshGateway, type MeshHome } from '../helpers/mesh.js';
import {
  chatBody,
  recordingAuthenticator,
  startMtlsUpstream,
  type MtlsUpstream,
} from '../helpers/mesh-upstream.js';

const GATEWAY_ID = `spiffe://${TD}/gateway/ztgate`;

/** The upstream hop over mutual TLS: the gateway presents its SVID and checks the server's SPIFFE ID. */
describe('mesh: mutual TLS to upstreams', () => {
  let h: MeshHome;
  let g: MeshGateway;
  let good: MtlsUpstream;
  let impostor: MtlsUpstream;
  let foreign: MtlsUpstream;
  before(async () => {
    h = await meshHome();
    const ca = h.ca.bundlePem;
    const vllm = await h.svid('model', 'vllm');
    good = await startMtlsUpstream({
      cert: vllm.chainPem,
      key: vllm.keyPem,
      ca,
      expectedClientId: GATEWAY_ID,
    });
    const other = await h.svid('model', 'other');
    impostor = await startMtlsUpstream({
      cert: other.chainPem,
      key: other.keyPem,
      ca,
      expectedClientId: GATEWAY_ID,
    });
    const soft = await SoftCa.create(TD);
    const fake = await newSvid(soft, workloadId(TD, 'model', 'vllm'), 60_000);
    foreign = await startMtlsUpstream({
      cert: fake.chainPem,
      key: fake.keyPem,
      ca,
      expectedClientId: GATEWAY_ID,
    });
    const upstream = (url: string) =>
      `{ kind: openai-compatible, baseUrl: "${url}", retries: 0, mtls: { spiffeIds: ["spiffe://${TD}/model/vllm"] } }`;
    g = await startMeshGateway(
      h.home,
      `
server: { port: 0, adminPort: 0 }
logging: { level: debug }
mesh: { enabled: true }
upstreams:
  good: ${upstream(good.url)}
  impostor: ${upstream(impostor.url)}
  foreign: ${upstream(foreign.url)}
models:
  - { id: m-good, upstream: good, upstreamModel: x }
  - { id: m-impostor, upstream: impostor, upstreamModel: x }
  - { id: m-foreign, upstream: foreign, upstreamModel: x }
`,
      { authenticate: recordingAuthenticator([]) },
    );
  });
  after(async () => {
    await g?.close();
    await Promise.all([good?.close(), impostor?.close(), foreign?.close()]);
    await h?.close();
  });

  const chat = (model: string) =>
    fetch(`${g.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chatBody(model),
    });

  it('reaches an upstream whose SPIFFE ID is allowed, presenting the gateway SVID', async () => {
    const res = await chat('m-good');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0]?.message.content, 'hello over mtls');
    assert.equal(good.seen.at(-1)?.clientId, GATEWAY_ID, 'the upstream saw the gateway SPIFFE ID');
  });

  it('refuses an upstream of the right CA whose SPIFFE ID is not allowed (not its host name)', async () => {
    const res = await chat('m-impostor');
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'upstream_unavailable');
    assert.equal(impostor.seen.length, 0, 'no request was sent to it');
    assert.match(g.logs.text(), /peer_not_allowed/);
  });

  it('refuses an upstream with the allowed SPIFFE ID from another CA', async () => {
    const res = await chat('m-foreign');
    assert.equal(res.status, 502);
    assert.equal(foreign.seen.length, 0);
  });

  it('the readiness check of the mtls upstream passes over mutual TLS', async () => {
    const res = await fetch(`${g.gw.adminUrl}/readyz`);
    const body = (await res.json()) as { checks: Record<string, string> };
    assert.equal(body.checks['upstream:good'], 'ok');
    assert.equal(body.checks['upstream:impostor'], 'failing');
    assert.equal(body.checks['mesh:svid'], 'ok');
  });
});
