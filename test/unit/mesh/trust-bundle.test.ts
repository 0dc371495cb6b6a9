import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { isMeshError, parseTrustBundle, pemCertificates } from '../../../src/mesh/index.js';
import { oddLeaf, SoftCa } from '../../helpers/mesh.js';

describe('trust bundles', () => {
  let a: SoftCa;
  let b: SoftCa;
  before(async () => {
    a = await SoftCa.create('td');
    b = await SoftCa.create('td');
  });

  it('reads PEM CA certificates', () => {
    const bundle = parseTrustBundle(a.bundlePem + b.bundlePem, 'td', 'file:x.pem');
    assert.equal(bundle.certificates.length, 2);
    assert.equal(bundle.trustDomain, 'td');
    assert.equal(pemCertificates(bundle.pem).length, 2);
  });

  it('reads a SPIFFE bundle (JWKS): x509-svid keys only, the first x5c entry', () => {
    const bundle = parseTrustBundle(a.jwks(), 'td', 'file:x.json');
    assert.equal(bundle.certificates.length, 1, 'jwt-svid keys and keys without x5c are ignored');
    assert.ok(bundle.certificates[0]!.equals(a.root));
    const unknownType = JSON.stringify({
      keys: [
        { kty: 'weird', use: 'x509-svid', x5c: ['AAAA'] },
        { kty: 'EC', use: 'x509-svid', x5c: [b.root.toString('base64'), 'ignored'] },
      ],
    });
    assert.equal(parseTrustBundle(unknownType, 'td', 'j').certificates.length, 1);
  });

  const refuse = (text: string) =>
    assert.throws(
      () => parseTrustBundle(text, 'td', 'src'),
      (err) => isMeshError(err, 'trust_bundle_invalid'),
    );

  it('refuses an empty bundle, garbage, bad JSON and bad base64', () => {
    refuse('');
    refuse('hello');
    refuse('{"keys": [}');
    refuse('{"no": "keys"}');
    refuse(JSON.stringify({ keys: [{ kty: 'EC', use: 'jwt-svid' }] }));
    refuse(JSON.stringify({ keys: [{ kty: 'EC', use: 'x509-svid', x5c: ['not base64!'] }] }));
  });

  it('refuses a leaf certificate and anything with a private key', async () => {
    const leaf = await oddLeaf(a, { uris: ['spiffe://td/a/b'] });
    refuse(leaf.cert);
    refuse(a.bundlePem + leaf.key);
  });

  it('refuses an invalid trust domain', () => {
    assert.throws(
      () => parseTrustBundle(a.bundlePem, 'TD', 'src'),
      (err) => isMeshError(err, 'spiffe_id_invalid'),
    );
  });
});
