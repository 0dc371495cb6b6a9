import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { randomSerial } from '../../../src/mesh/cert-signer.js';
import {
  derToPem,
  InMemoryRevocationList,
  isMeshError,
  newSvid,
  pemCertificates,
  recheckPeer,
  SpiffeAllowList,
  verifyPeerChain,
  workloadId,
  type MeshErrorCode,
  type PeerPolicy,
} from '../../../src/mesh/index.js';
import { x509 } from '../../../src/mesh/x509.js';
import { oddLeaf, SoftCa } from '../../helpers/mesh.js';

/** The checks after node:tls verified the chain: SVID form, trust domain, expiry, revocation, allow-list. */
describe('peer verification', () => {
  let ca: SoftCa;
  let revocations: InMemoryRevocationList;
  let policy: PeerPolicy;
  before(async () => {
    ca = await SoftCa.create('td');
    revocations = new InMemoryRevocationList();
    policy = { trustDomain: 'td', allow: new SpiffeAllowList(['spiffe://td/agent/*']), revocations };
  });

  const chain = (pem: string) => pemCertificates(pem);
  const fails = (pem: string, code: MeshErrorCode, p: PeerPolicy = policy) =>
    assert.throws(
      () => verifyPeerChain(chain(pem), p),
      (err) => isMeshError(err, code),
    );

  it('accepts an allowed SVID and reports what the credential needs', async () => {
    const svid = await newSvid(ca, workloadId('td', 'agent', 'a1'), 60_000);
    const peer = verifyPeerChain(chain(svid.chainPem), policy);
    assert.equal(peer.spiffeId.id, 'spiffe://td/agent/a1');
    assert.equal(peer.serialNumber, svid.serial);
    assert.equal(peer.notAfter, Math.floor(svid.notAfter.getTime() / 1000));
    assert.deepEqual(peer.chainSerials, [svid.serial]);
    const any: PeerPolicy = { ...policy, allow: undefined };
    assert.equal(verifyPeerChain(chain(svid.chainPem), any).spiffeId.id, 'spiffe://td/agent/a1');
  });

  it('no certificate: peer_certificate_missing', () => {
    assert.throws(
      () => verifyPeerChain([], policy),
      (err) => isMeshError(err, 'peer_certificate_missing'),
    );
  });

  it('no URI SAN, two URI SANs, a non-SPIFFE URI: refused', async () => {
    fails((await oddLeaf(ca, { dns: ['a.td'] })).cert, 'peer_not_svid');
    fails(
      (await oddLeaf(ca, { uris: ['spiffe://td/agent/a', 'spiffe://td/agent/b'] })).cert,
      'peer_not_svid',
    );
    fails((await oddLeaf(ca, { uris: ['https://td/agent/a'] })).cert, 'spiffe_id_invalid');
    fails((await oddLeaf(ca, { uris: ['spiffe://td'] })).cert, 'spiffe_id_invalid');
  });

  it('a CA certificate or a leaf that may sign certificates is not an SVID', async () => {
    fails(ca.bundlePem, 'peer_not_svid');
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signing = await ca.signLeaf({
      subject: 'O=x',
      serial: randomSerial(),
      notBefore: new Date(Date.now() - 1000),
      notAfter: new Date(Date.now() + 60_000),
      publicKey: publicKey.export({ type: 'spki', format: 'der' }),
      extensions: [
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign,
          true,
        ),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'spiffe://td/agent/a' }]),
      ],
    });
    fails(signing.chain.map(derToPem).join(''), 'peer_not_svid');
  });

  it('expired or not yet valid: peer_certificate_untrusted', async () => {
    const uris = ['spiffe://td/agent/a'];
    fails(
      (await oddLeaf(ca, { uris, notAfter: new Date(Date.now() - 1000) })).cert,
      'peer_certificate_untrusted',
    );
    fails(
      (await oddLeaf(ca, { uris, notBefore: new Date(Date.now() + 60_000) })).cert,
      'peer_certificate_untrusted',
    );
  });

  it('another trust domain: peer_trust_domain_mismatch', async () => {
    fails((await oddLeaf(ca, { uris: ['spiffe://other/agent/a'] })).cert, 'peer_trust_domain_mismatch');
  });

  it('not on the allow-list: peer_not_allowed', async () => {
    fails((await oddLeaf(ca, { uris: ['spiffe://td/ops/a'] })).cert, 'peer_not_allowed');
  });

  it('revoked (leaf or issuer): certificate_revoked, also on a re-check of a verified peer', async () => {
    const leaf = await oddLeaf(ca, { uris: ['spiffe://td/agent/r'] });
    const peer = verifyPeerChain(chain(leaf.cert), policy);
    revocations.revoke(leaf.serial.toLowerCase());
    fails(leaf.cert, 'certificate_revoked');
    assert.throws(
      () => recheckPeer(peer, policy),
      (err) => isMeshError(err, 'certificate_revoked'),
    );
    const other = await oddLeaf(ca, { uris: ['spiffe://td/agent/s'] });
    const withRoot = other.cert + ca.bundlePem;
    assert.ok(verifyPeerChain(chain(withRoot), policy));
    revocations.revoke(new x509.X509Certificate(ca.root).serialNumber);
    fails(withRoot, 'certificate_revoked');
  });

  it('a re-check refuses a peer whose certificate expired since the handshake', async () => {
    const svid = await newSvid(ca, workloadId('td', 'agent', 'e'), 60_000);
    const peer = verifyPeerChain(chain(svid.chainPem), policy);
    assert.doesNotThrow(() => recheckPeer(peer, policy));
    const later: PeerPolicy = { ...policy, now: () => Date.now() + 120_000 };
    assert.throws(
      () => recheckPeer(peer, later),
      (err) => isMeshError(err, 'peer_certificate_untrusted'),
    );
  });
});
