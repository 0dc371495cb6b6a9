import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  randomSerial,
  signCertificate,
  tbsOf,
  type CertificateTemplate,
} from '../../../src/mesh/cert-signer.js';
import { isMeshError, normalizeSerial } from '../../../src/mesh/index.js';

describe('signing certificates with a key the caller cannot see', () => {
  const issuer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const subject = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const template: CertificateTemplate = {
    subject: 'CN=leaf',
    issuer: 'CN=issuer',
    serial: randomSerial(),
    notBefore: new Date(Date.now() - 1000),
    notAfter: new Date(Date.now() + 60_000),
    publicKey: subject.publicKey.export({ type: 'spki', format: 'der' }),
    extensions: [],
  };
  const p1363 = async (tbs: Uint8Array) =>
    sign('sha256', tbs, { key: issuer.privateKey, dsaEncoding: 'ieee-p1363' });

  it('the signer signs exactly the TBSCertificate, and the result verifies', async () => {
    let signed: Uint8Array | undefined;
    const der = await signCertificate(
      template,
      async (tbs) => {
        signed = tbs;
        return p1363(tbs);
      },
      issuer.publicKey,
    );
    assert.ok(Buffer.from(tbsOf(der)).equals(Buffer.from(signed!)));
    const cert = new X509Certificate(der);
    assert.equal(cert.verify(issuer.publicKey), true);
    assert.equal(normalizeSerial(cert.serialNumber), normalizeSerial(template.serial));
  });

  it('a signature by another key, or not 64 bytes, never comes out as a certificate', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await assert.rejects(
      signCertificate(
        template,
        async (tbs) => sign('sha256', tbs, { key: other.privateKey, dsaEncoding: 'ieee-p1363' }),
        issuer.publicKey,
      ),
      (err) => isMeshError(err, 'ca_invalid'),
    );
    await assert.rejects(
      signCertificate(template, async (tbs) => sign('sha256', tbs, issuer.privateKey), issuer.publicKey),
      (err) => isMeshError(err, 'ca_invalid'),
    );
  });

  it('random serials are positive 128-bit numbers', () => {
    for (let i = 0; i < 50; i++) assert.match(randomSerial(), /^[0-7][0-9A-F]{31}$/);
  });
});
