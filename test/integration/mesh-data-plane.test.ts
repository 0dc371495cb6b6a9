import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Credentials } from '../../src/core/index.js';
import { newSvid, workloadId } from '../../src/mesh/index.js';
import {
  eventually,
  meshHome,
  refused,
  SoftCa,
  startMeshGateway,
  TD,
  tlsGet,
  type MeshGateway,
  type MeshHome,
} from '../helpers/mesh.js';
import { chatBody, recordingAuthenticator } from '../helpers/mesh-upstream.js';

async function dataPlaneGateway(mode: 'optional' | 'required', seen: Credentials[]) {
  const h = await meshHome();
  const g = await startMeshGateway(
    h.home,
    `
server: { port: 0, adminPort: 0, tls: { clientCertificates: ${mode}, allowedSpiffeIds: ["spiffe://${TD}/agent/*"] } }
logging: { level: debug }
demo: { enabled: true, issuerPort: 0, modelPort: 0 }
mesh: { enabled: true }
`,
    { authenticate: recordingAuthenticator(seen) },
  );
  return { h, g };
}

/** The data plane over TLS: a verified client certificate becomes credentials.clientCertificate. */
describe('mesh: client certificates on the data plane (optional)', () => {
  let h: MeshHome;
  let g: MeshGateway;
  const seen: Credentials[] = [];
  before(async () => ({ h, g } = await dataPlaneGateway('optional', seen)));
  after(async () => {
    await g?.close();
    await h?.close();
  });
  const url = () => `${g.gw.dataUrl}/v1/chat/completions`;

  it('a verified SVID becomes the clientCertificate credential', async () => {
    assert.match(g.gw.dataUrl, /^https:/);
    const svid = await h.svid('agent', 'a1');
    const res = await tlsGet(
      url(),
      { ca: h.ca.bundlePem, cert: svid.chainPem, key: svid.keyPem },
      chatBody('demo'),
    );
    assert.equal(res.status, 200, res.body);
    const cert = seen.at(-1)?.clientCertificate;
    assert.ok(cert);
    assert.equal(cert.spiffeId, `spiffe://${TD}/agent/a1`);
    assert.equal(cert.serialNumber, svid.serial);
    assert.match(cert.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(cert.notAfter, Math.floor(svid.notAfter.getTime() / 1000));
  });

  it('without a certificate the request goes on without clientCertificate', async () => {
    const res = await tlsGet(url(), { ca: h.ca.bundlePem }, chatBody('demo'));
    assert.equal(res.status, 200, res.body);
    assert.equal(seen.at(-1)?.clientCertificate, undefined);
  });

  it('a certificate that does not verify is refused even though certificates are optional', async () => {
    const soft = await SoftCa.create(TD);
    const fake = await newSvid(soft, workloadId(TD, 'agent', 'a1'), 60_000);
    const before = seen.length;
    await refused(
      tlsGet(url(), { ca: h.ca.bundlePem, cert: fake.chainPem, key: fake.keyPem }, chatBody('demo')),
    );
    const svid = await h.svid('service', 'x');
    await refused(
      tlsGet(url(), { ca: h.ca.bundlePem, cert: svid.chainPem, key: svid.keyPem }, chatBody('demo')),
    );
    assert.equal(seen.length, before, 'the pipeline never saw them');
    await eventually(() => g.refusals().includes('peer_not_allowed'));
    assert.ok(g.refusals().includes('peer_certificate_untrusted'));
  });
});

describe('mesh: client certificates on the data plane (required)', () => {
  let h: MeshHome;
  let g: MeshGateway;
  const seen: Credentials[] = [];
  before(async () => ({ h, g } = await dataPlaneGateway('required', seen)));
  after(async () => {
    await g?.close();
    await h?.close();
  });

  it('refuses a connection without a certificate; accepts one with an allowed SVID', async () => {
    const url = `${g.gw.dataUrl}/v1/chat/completions`;
    await refused(tlsGet(url, { ca: h.ca.bundlePem }, chatBody('demo')));
    await eventually(() => g.refusals().includes('peer_certificate_missing'));
    const svid = await h.svid('agent', 'a2');
    const res = await tlsGet(
      url,
      { ca: h.ca.bundlePem, cert: svid.chainPem, key: svid.keyPem },
      chatBody('demo'),
    );
    assert.equal(res.status, 200, res.body);
    assert.equal(seen.at(-1)?.clientCertificate?.spiffeId, `spiffe://${TD}/agent/a2`);
  });
});
