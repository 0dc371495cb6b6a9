// Identity over the mesh, end to end in one gateway: a service calls the data plane with only its
// SVID (no bearer token) and is a service principal; an operator revokes that certificate through
// the admin API over mutual TLS; the revocation is audited with the operator's SPIFFE ID, and the
// service is refused from then on.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { meshHome, startMeshGateway, TD, tlsGet, type MeshGateway, type MeshHome } from '../helpers/mesh.js';

describe('identity over mutual TLS', () => {
  let h: MeshHome;
  let g: MeshGateway;
  let ca: string;
  before(async () => {
    h = await meshHome();
    ca = h.ca.bundlePem;
    g = await startMeshGateway(
      h.home,
      `
server:
  port: 0
  adminPort: 0
  adminTls: true
  adminAllowedSpiffeIds: ["spiffe://${TD}/ops/*"]
  tls: { clientCertificates: optional, allowedSpiffeIds: ["spiffe://${TD}/service/*"] }
logging: { level: debug }
mesh: { enabled: true }
demo: { enabled: true, issuerPort: 0, modelPort: 0 }
`,
    );
  });
  after(async () => {
    await g?.close();
    await h?.close();
  });

  const chat = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hello' }] });

  it('a service calls with its SVID alone; an operator revokes it through the admin API', async () => {
    const service = await h.svid('service', 'billing');
    const asService = { ca, cert: service.chainPem, key: service.keyPem };
    const answer = await tlsGet(`${g.gw.dataUrl}/v1/chat/completions`, asService, chat);
    assert.equal(answer.status, 200, answer.body);
    const audit = (await g.gw.store.audit.list({ limit: 100 })).map((r) => r.entry);
    const served = audit.find((e) => e.phase === 'release');
    assert.equal(served?.principalId, `spiffe://${TD}/service/billing`);
    assert.equal(served?.authMethod, 'mtls');

    // The admin API needs an operator's SVID; the service's is not on the admin allow-list.
    const operator = await h.svid('ops', 'alice');
    const asOperator = { ca, cert: operator.chainPem, key: operator.keyPem };
    const body = JSON.stringify({ kind: 'certificate', value: service.serial, reason: 'key leaked' });
    const revoked = await tlsGet(`${g.gw.adminUrl}/admin/revocations`, asOperator, body);
    assert.ok(revoked.status === 200 || revoked.status === 201, revoked.body);

    const rows = (await g.gw.store.audit.list({ limit: 100 })).map((r) => r.entry);
    const row = rows.find((e) => e.action === 'revoke.certificate');
    assert.equal(row?.principalId, `spiffe://${TD}/ops/alice`);
    assert.equal(row?.status, 200);

    // Refused from now on: at the TLS layer, or by the authenticate stage.
    const after = await tlsGet(`${g.gw.dataUrl}/v1/chat/completions`, asService, chat).then(
      (a) => a.status,
      () => 'connection refused',
    );
    assert.ok(after === 401 || after === 'connection refused', `got ${after}`);
  });

  it('a service certificate without a bearer token and off the allow-list gets no principal', async () => {
    const stranger = await h.svid('batch', 'nightly');
    const answer = await tlsGet(
      `${g.gw.dataUrl}/v1/chat/completions`,
      { ca, cert: stranger.chainPem, key: stranger.keyPem },
      chat,
    ).then(
      (a) => a.status,
      () => 'connection refused',
    );
    assert.ok(answer === 401 || answer === 'connection refused', `got ${answer}`);
  });
});
