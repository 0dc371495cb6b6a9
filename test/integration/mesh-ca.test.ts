import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureHome } from '../../src/config/index.js';
import { BuiltInCa, INTERMEDIATE_KEY_NAME, isMeshError, newSvid, workloadId } from '../../src/mesh/index.js';
import { meshHome, startMeshGateway, type MeshHome } from '../helpers/mesh.js';

/** The built-in CA in-process: its keys are the key provider's, and a mismatch fails closed. */
describe('mesh: the built-in CA', () => {
  let h: MeshHome;
  before(async () => {
    h = await meshHome();
  });
  after(() => h?.close());

  it('issues SVIDs only in its trust domain, never past the intermediate', async () => {
    const ca = await BuiltInCa.load(h.context.service.keys, h.home);
    const svid = await newSvid(ca, workloadId('example.org', 'agent', 'a'), 60_000);
    assert.match(svid.keyPem, /^-----BEGIN PRIVATE KEY-----/);
    await assert.rejects(newSvid(ca, workloadId('other.org', 'agent', 'a'), 60_000), (err) =>
      isMeshError(err, 'spiffe_id_invalid'),
    );
    const long = await newSvid(ca, workloadId('example.org', 'agent', 'b'), 100 * 365 * 86_400_000);
    assert.ok(long.notAfter.getTime() <= Date.parse(new X509Certificate(ca.intermediatePem).validTo));
  });

  it('a rotated intermediate key no longer matches its certificate: the CA refuses to load (fail closed)', async () => {
    await h.context.service.keys.rotateKey(INTERMEDIATE_KEY_NAME, 'test');
    await assert.rejects(BuiltInCa.load(h.context.service.keys, h.home), (err) =>
      isMeshError(err, 'ca_invalid'),
    );
  });

  it('a gateway with the mesh on and no CA does not start (ca_not_initialized)', async () => {
    const home = await mkdtemp(join(tmpdir(), 'ztgate-mesh-noca-'));
    try {
      await ensureHome(home);
      await assert.rejects(
        startMeshGateway(home, 'server: { port: 0, adminPort: 0 }\nmesh: { enabled: true }\n'),
        (err) => isMeshError(err, 'ca_not_initialized'),
      );
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
