import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { caPaths, recordRevocation } from '../../src/mesh/index.js';
import {
  eventually,
  meshHome,
  oddLeaf,
  refused,
  SoftCa,
  startMeshGateway,
  TD,
  tlsGet,
  type MeshGateway,
  type MeshHome,
} from '../helpers/mesh.js';

/** The admin listener over mutual TLS: real TLS on loopback, one refusal reason per test. */
describe('mesh: mutual TLS on the admin listener', () => {
  let h: MeshHome;
  let g: MeshGateway;
  let ca: string;
  before(async () => {
    h = await meshHome();
    ca = h.ca.bundlePem;
    g = await startMeshGateway(
      h.home,
      `
server: { port: 0, adminPort: 0, adminTls: true, adminAllowedSpiffeIds: ["spiffe://${TD}/ops/*", "spiffe://${TD}/agent/a1"] }
logging: { level: debug }
mesh: { enabled: true }
`,
    );
  });
  after(async () => {
    await g?.close();
    await h?.close();
  });

  const healthz = () => `${g.gw.adminUrl}/healthz`;

  it('accepts a good SVID on the allow-list, and presents the gateway SVID', async () => {
    assert.match(g.gw.adminUrl, /^https:/);
    const svid = await h.svid('ops', 'alice');
    const res = await tlsGet(healthz(), { ca, cert: svid.chainPem, key: svid.keyPem });
    assert.equal(res.status, 200);
    assert.equal(res.serverId, `spiffe://${TD}/gateway/ztgate`);
    const exact = await h.svid('agent', 'a1');
    assert.equal((await tlsGet(healthz(), { ca, cert: exact.chainPem, key: exact.keyPem })).status, 200);
  });

  it('refuses a client without a certificate', async () => {
    await refused(tlsGet(healthz(), { ca }));
    await eventually(() => g.refusals().includes('peer_certificate_missing'));
  });

  it('refuses a certificate from another CA, even with an allowed SPIFFE ID', async () => {
    const other = await SoftCa.create(TD);
    const { newSvid, workloadId } = await import('../../src/mesh/index.js');
    const svid = await newSvid(other, workloadId(TD, 'ops', 'alice'), 60_000);
    await refused(tlsGet(healthz(), { ca, cert: svid.chainPem, key: svid.keyPem }));
    await eventually(() => g.refusals().includes('peer_certificate_untrusted'));
  });

  it('refuses an expired certificate of the right CA', async () => {
    const before = g.refusals().length;
    const leaf = await oddLeaf(h.ca, {
      uris: [`spiffe://${TD}/ops/alice`],
      notBefore: new Date(Date.now() - 7_200_000),
      notAfter: new Date(Date.now() - 3_600_000),
    });
    await refused(tlsGet(healthz(), { ca, cert: leaf.cert, key: leaf.key }));
    await eventually(() => g.refusals().length > before);
    assert.equal(g.refusals().at(-1), 'peer_certificate_untrusted');
    assert.match(g.logs.text(), /CERT_HAS_EXPIRED/);
  });

  it('refuses a SPIFFE ID that is not on the allow-list', async () => {
    const svid = await h.svid('agent', 'a2');
    await refused(tlsGet(healthz(), { ca, cert: svid.chainPem, key: svid.keyPem }));
    await eventually(() => g.refusals().includes('peer_not_allowed'));
  });

  it('refuses a certificate without a SPIFFE ID', async () => {
    const before = g.refusals().length;
    const leaf = await oddLeaf(h.ca, { dns: ['alice.example.org'] });
    await refused(tlsGet(healthz(), { ca, cert: leaf.cert, key: leaf.key }));
    await eventually(() => g.refusals().length > before);
    assert.equal(g.refusals().at(-1), 'peer_not_svid');
  });

  it('refuses a certificate with two URI SANs', async () => {
    const before = g.refusals().length;
    const leaf = await oddLeaf(h.ca, { uris: [`spiffe://${TD}/ops/alice`, `spiffe://${TD}/ops/bob`] });
    await refused(tlsGet(healthz(), { ca, cert: leaf.cert, key: leaf.key }));
    await eventually(() => g.refusals().length > before);
    assert.equal(g.refusals().at(-1), 'peer_not_svid');
  });

  it('refuses a revoked certificate, also on a connection opened before the revocation', async () => {
    const svid = await h.svid('ops', 'carol');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const client = { ca, cert: svid.chainPem, key: svid.keyPem, agent };
      const first = await tlsGet(healthz(), client);
      assert.equal(first.status, 200);
      assert.equal(await recordRevocation(caPaths(h.home).revoked, svid.serial), true);
      // The gateway reloads revoked.json within a second; the kept-alive connection is cut.
      await eventually(async () => {
        try {
          await tlsGet(healthz(), client);
          return false;
        } catch {
          return true;
        }
      });
      // Cut on its next request (the per-request re-check), not at a new handshake.
      assert.ok(first.socket.destroyed);
      assert.match(
        g.logs.text(),
        new RegExp(`certificate ${svid.serial} of spiffe://${TD}/ops/carol is revoked`),
      );
      await refused(tlsGet(healthz(), { ca, cert: svid.chainPem, key: svid.keyPem }));
      await eventually(() => g.logs.text().includes(`certificate ${svid.serial} in the chain of`));
    } finally {
      agent.destroy();
    }
  });
});
