// From `upstreams.<n>.attestation` config to the verifier and reference values a runtime gets.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';
import { referenceFromConfig, serviceVerifier } from '../../../src/gateway/attestation-config.js';
import { withBundleReference } from '../../../src/gateway/runtime-trust-service.js';
import { EarVerifier } from '../../../src/runtime/attestation/ear.js';
import { TdxVerifier } from '../../../src/runtime/attestation/tdx.js';

const TDX = fileURLToPath(new URL('../../fixtures/attestation/tdx/', import.meta.url));
const MRTD = 'ab'.repeat(48);
const secret = (ref: string) => Promise.resolve(`resolved(${ref})`);

function attestationOf(yaml: string) {
  const config = parseConfig(`
mesh: { enabled: true }
upstreams:
  u: { kind: openai-compatible, baseUrl: "https://127.0.0.1:1/v1", mtls: { spiffeIds: ["spiffe://example.org/agent/a"] }, attestation: ${yaml} }
`);
  const a = config.upstreams.u?.attestation;
  assert.ok(a);
  return a;
}

describe('attestation config', () => {
  it('tdx: reference values and a verifier with the Intel collateral files', async () => {
    const a = attestationOf(`{ kind: tdx, measurements: ["${MRTD}"], minTcb: { pce_svn: 10 },
      tdx: { rtmr0: ["${'cd'.repeat(48)}"], tdAttributes: { mask: "10000000", value: "10000000" }, requireCollateral: true },
      tdxCollateral: { tcbInfo: sample_tcbInfo_response, qeIdentity: sample_qeIdentity_response, tcbSigningChain: tcb_signing_chain.pem, pckCrl: pckcrl, rootCrl: rootcrl.der } }`);
    const reference = await referenceFromConfig(a, 'upstreams.u.attestation', secret);
    assert.deepEqual(reference, {
      measurements: [MRTD],
      allowDebug: false,
      minTcb: { pce_svn: 10 },
      tdx: {
        rtmr0: ['cd'.repeat(48)],
        tdAttributes: { mask: '10000000', value: '10000000' },
        requireCollateral: true,
      },
    });
    assert.ok((await serviceVerifier(a, 'upstreams.u.attestation', secret, TDX)) instanceof TdxVerifier);
    await assert.rejects(
      serviceVerifier(a, 'upstreams.u.attestation', secret, '/nonexistent'),
      /upstreams\.u\.attestation\.tdxCollateral\.tcbInfo: ENOENT/,
    );
  });

  it('ear: a verifier pinned to the configured key; sev-snp: none of its own', async () => {
    const ear = attestationOf(
      `{ kind: ear, measurements: ["${MRTD}"], service: { publicKey: "file:k.pem" } }`,
    );
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const v = await serviceVerifier(ear, 'w', (ref) => Promise.resolve(ref === 'file:k.pem' ? pem : ''), '/');
    assert.ok(v instanceof EarVerifier);
    const snp = attestationOf(`{ kind: sev-snp, measurements: ["${MRTD}"], sevSnp: { vmpl: [0] } }`);
    assert.equal(await serviceVerifier(snp, 'w', secret, '/'), undefined);
    assert.deepEqual((await referenceFromConfig(snp, 'w', secret)).sevSnp, { vmpl: [0] });
    assert.throws(
      () =>
        attestationOf(
          `{ kind: sev-snp, measurements: ["${MRTD}"], tdxCollateral: { tcbInfo: a, qeIdentity: b, tcbSigningChain: c } }`,
        ),
      /tdxCollateral: not used with kind sev-snp/,
    );
  });

  it('a bundle reference replaces the fields it names and keeps the pinned dev key', () => {
    const configured = { measurements: ['aa'.repeat(32)], allowDebug: false, dev: { publicKey: 'PEM' } };
    assert.equal(withBundleReference(configured, undefined), configured);
    assert.deepEqual(
      withBundleReference(configured, { measurements: ['bb'.repeat(32)], allowDebug: false }),
      {
        measurements: ['bb'.repeat(32)],
        allowDebug: false,
        dev: { publicKey: 'PEM' },
      },
    );
  });
});
