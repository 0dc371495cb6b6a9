import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { after, before, describe, it } from 'node:test';
import type { SvidMaterial } from '../../src/mesh/index.js';
import {
  eventually,
  meshHome,
  startMeshGateway,
  TD,
  tlsGet,
  type MeshGateway,
  type MeshHome,
} from '../helpers/mesh.js';
import {
  chatBody,
  recordingAuthenticator,
  startMtlsUpstream,
  type MtlsUpstream,
} from '../helpers/mesh-upstream.js';

const GATEWAY_ID = `spiffe://${TD}/gateway/ztgate`;

/**
 * The gateway's SVID lives 3 s and is renewed at two thirds (2 s). Connections opened before a
 * renewal keep working; new connections, in both directions, carry the new certificate.
 */
describe('mesh: SVID renewal without dropping connections', () => {
  let h: MeshHome;
  let g: MeshGateway;
  let upstream: MtlsUpstream;
  let client: SvidMaterial;
  before(async () => {
    h = await meshHome();
    client = await h.svid('ops', 'alice');
    const server = await h.svid('model', 'vllm');
    upstream = await startMtlsUpstream({
      cert: server.chainPem,
      key: server.keyPem,
      ca: h.ca.bundlePem,
      expectedClientId: GATEWAY_ID,
    });
    g = await startMeshGateway(
      h.home,
      `
server: { port: 0, adminPort: 0, adminTls: true, adminAllowedSpiffeIds: ["spiffe://${TD}/ops/*"] }
logging: { level: debug }
mesh: { enabled: true, svidTtl: 3s }
upstreams:
  vllm: { kind: openai-compatible, baseUrl: "${upstream.url}", retries: 0, mtls: { spiffeIds: ["spiffe://${TD}/model/vllm"] } }
models:
  - { id: m, upstream: vllm, upstreamModel: x }
`,
      { authenticate: recordingAuthenticator([]) },
    );
  });
  after(async () => {
    await g?.close();
    await upstream?.close();
    await h?.close();
  });

  const renewals = () => g.logs.lines.filter((l) => l.includes('mesh: gateway SVID renewed')).length;

  it('server side: a kept-alive connection survives the renewal; a new one sees a new serial', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const tls = { ca: h.ca.bundlePem, cert: client.chainPem, key: client.keyPem };
      const first = await tlsGet(`${g.gw.adminUrl}/healthz`, { ...tls, agent });
      assert.equal(first.status, 200);
      const seen = renewals();
      await eventually(() => renewals() > seen, 4000);
      const again = await tlsGet(`${g.gw.adminUrl}/healthz`, { ...tls, agent });
      assert.equal(again.status, 200);
      assert.equal(again.socket, first.socket, 'the same connection');
      assert.equal(again.serverSerial, first.serverSerial);
      const fresh = await tlsGet(`${g.gw.adminUrl}/healthz`, tls);
      assert.equal(fresh.status, 200);
      assert.notEqual(fresh.serverSerial, first.serverSerial, 'a new connection gets the renewed SVID');
      assert.equal(fresh.serverId, GATEWAY_ID);
    } finally {
      agent.destroy();
    }
  });

  it('client side: the upstream connection survives the renewal; the next connection presents the new SVID', async () => {
    const chat = () =>
      fetch(`${g.gw.dataUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: chatBody('m'),
      });
    assert.equal((await chat()).status, 200);
    const first = upstream.seen.at(-1)!;
    const seen = renewals();
    await eventually(() => renewals() > seen, 4000);
    upstream.closeAfterNext();
    assert.equal((await chat()).status, 200);
    const second = upstream.seen.at(-1)!;
    assert.equal(second.connection, first.connection, 'the pooled connection was kept');
    assert.equal(second.clientSerial, first.clientSerial);
    assert.equal((await chat()).status, 200);
    const third = upstream.seen.at(-1)!;
    assert.notEqual(third.connection, first.connection);
    assert.notEqual(third.clientSerial, first.clientSerial, 'a new connection presents the renewed SVID');
    assert.equal(third.clientId, GATEWAY_ID);
  });

  it('renewals are logged by serial; no private key ever reaches the log', () => {
    assert.ok(renewals() >= 2);
    assert.match(g.logs.text(), /"msg":"mesh: gateway SVID renewed"/);
    assert.doesNotMatch(g.logs.text(), /PRIVATE KEY|keyPem/);
  });
});
