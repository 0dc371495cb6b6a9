import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newSvid, workloadId } from '../../src/mesh/index.js';
import {
  eventually,
  meshHome,
  oddLeaf,
  refused,
  SoftCa,
  startMeshGateway,
  TD,
  tlsGet,
  type MeshHome,
} from '../helpers/mesh.js';

const SPIRE_TD = 'spire.example';

/**
 * An external SPIFFE issuer (a SPIRE-like CA, here in memory) is trusted through mesh.trustBundle
 * instead of the built-in CA, as PEM and as a SPIFFE bundle (JWKS). The gateway's own SVID still
 * comes from the built-in CA.
 */
describe('mesh: external trust bundles', () => {
  let h: MeshHome;
  let spire: SoftCa;
  before(async () => {
    h = await meshHome();
    spire = await SoftCa.create(SPIRE_TD);
    await writeFile(join(h.home, 'spire.pem'), spire.bundlePem);
    await writeFile(join(h.home, 'spire.jwks.json'), spire.jwks());
  });
  after(() => h?.close());

  const config = (bundle: string) => `
server: { port: 0, adminPort: 0, adminTls: true, adminAllowedSpiffeIds: ["spiffe://${SPIRE_TD}/ops/*", "spiffe://${TD}/ops/*", "spiffe://other.example/ops/*"] }
logging: { level: debug }
mesh: { enabled: true, trustDomain: ${SPIRE_TD}, trustBundle: "file:${bundle}" }
`;

  for (const bundle of ['spire.pem', 'spire.jwks.json']) {
    it(`accepts the external issuer's SVIDs instead of the built-in CA's (${bundle})`, async () => {
      const g = await startMeshGateway(h.home, config(bundle));
      try {
        const url = `${g.gw.adminUrl}/healthz`;
        const ca = h.ca.bundlePem;
        const external = await newSvid(spire, workloadId(SPIRE_TD, 'ops', 'alice'), 60_000);
        const ok = await tlsGet(url, { ca, cert: external.chainPem, key: external.keyPem });
        assert.equal(ok.status, 200);
        assert.equal(
          ok.serverId,
          `spiffe://${TD}/gateway/ztgate`,
          'the gateway SVID is from the built-in CA',
        );

        const builtIn = await h.svid('ops', 'alice');
        await refused(tlsGet(url, { ca, cert: builtIn.chainPem, key: builtIn.keyPem }));
        await eventually(() => g.refusals().includes('peer_certificate_untrusted'));

        const elsewhere = await oddLeaf(spire, { uris: ['spiffe://other.example/ops/alice'] });
        await refused(tlsGet(url, { ca, cert: elsewhere.cert, key: elsewhere.key }));
        await eventually(() => g.refusals().includes('peer_trust_domain_mismatch'));
      } finally {
        await g.close();
      }
    });
  }

  it('a bundle file that holds a private key stops the start', async () => {
    await writeFile(
      join(h.home, 'bad.pem'),
      `${spire.bundlePem}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`,
    );
    await assert.rejects(startMeshGateway(h.home, config('bad.pem')), { code: 'trust_bundle_invalid' });
  });
});
