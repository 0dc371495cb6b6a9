// Intel TDX quote verification against real Intel quotes and PCS collateral (google/go-tdx-guest
// testing/testdata, see test/fixtures/attestation/tdx/SOURCE.md). The v4 quote
// (tdx_prod_quote_SPR_E4.dat) carries 64 bytes of its own REPORTDATA, so the happy path uses the
// raw-nonce binding with those bytes as the "nonce"; the ztgate binding is tested on the parsed
// quote. Its debug bit is off. `now` is 2023-06-20: inside the PCK chain's validity and the
// sample collateral's issueDate..nextUpdate windows.
import assert from 'node:assert/strict';
import { codeOf, flipBit, rejects } from '../../helpers/attestation.js';
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { x509 } from '../../../src/mesh/x509.js';
import { RAW_NONCE_BINDING, ZTGATE_BINDING_V1 } from '../../../src/runtime/attestation/binding.js';
import {
  bundledIntelRoot,
  checkNotRevoked,
  loadIntelRoot,
  parsePckExtension,
  PINNED_INTEL_SGX_ROOT_SHA256,
  QeIdentitySchema,
  TdxTcbInfoSchema,
  verifyCrl,
  verifyPckChain,
  verifySignedCollateral,
  type TdxTcbInfo,
} from '../../../src/runtime/attestation/intel-pcs.js';
import { parseTdxQuote } from '../../../src/runtime/attestation/tdx-quote.js';
import {
  acceptTcbStatus,
  checkTdxQuote,
  evaluateQeIdentity,
  evaluateTdxTcb,
  TdxVerifier,
  type TdxCollateral,
  type TdxReference,
} from '../../../src/runtime/attestation/tdx.js';
import {
  AttestationError,
  type AttestationErrorCode,
  type ExpectedBinding,
  type ReferenceValues,
} from '../../../src/runtime/attestation/types.js';

const FIXTURES = new URL('../../fixtures/attestation/tdx/', import.meta.url);
const read = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const QUOTE = read('tdx_prod_quote_SPR_E4.dat');
const QUOTE_V5 = read('quote_v5_sample.dat');
const TCB_INFO = read('sample_tcbInfo_response').toString('utf8');
const QE_IDENTITY = read('sample_qeIdentity_response').toString('utf8');
const TCB_SIGNING_CHAIN = read('tcb_signing_chain.pem').toString('utf8');
const PCK_CRL = read('pckcrl');
const ROOT_CRL = read('rootcrl.der');
const AMD_CHAIN = readFileSync(
  new URL('../../fixtures/attestation/sev-snp/ask_ark_milan.pem', import.meta.url),
  'utf8',
);

const PARSED = parseTdxQuote(QUOTE);
const MRTD =
  '6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb';
const REPORT_DATA = Buffer.from(PARSED.body.reportData);
const NOW = Date.parse('2023-06-20T00:00:00Z');
const EXPECTED: ExpectedBinding = { nonce: REPORT_DATA, now: NOW };
const REFERENCE: ReferenceValues = { measurements: [MRTD] };
const COLLATERAL: TdxCollateral = {
  tcbInfo: TCB_INFO,
  qeIdentity: QE_IDENTITY,
  tcbSigningChain: TCB_SIGNING_CHAIN,
  pckCrl: PCK_CRL,
  rootCrl: ROOT_CRL,
};

const verifier = new TdxVerifier({ binding: RAW_NONCE_BINDING });
const withTdx = (tdx: TdxReference, extra: Partial<ReferenceValues> = {}): ReferenceValues =>
  ({ ...REFERENCE, ...extra, tdx }) as ReferenceValues;

// Layout of the v4 sample (see tdx-quote.ts): signed 0..632, signature data from 636.
const SIG = 636;
const ATT_KEY = SIG + 64;
const QE_REPORT = SIG + 64 + 64 + 6;
const QE_SIG = QE_REPORT + 384;
const AUTH = QE_SIG + 64; // u16 length, 32 bytes

/** The quote with another QE report signature and/or PCK chain (sizes rewritten). */
function rebuild(opts: { chainPem?: string; qeReportSig?: Uint8Array }): Buffer {
  const u16 = (n: number): Buffer => Buffer.from([n & 0xff, n >> 8]);
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const chain = Buffer.from(opts.chainPem ?? PARSED.pckChainPem, 'latin1');
  const qe = Buffer.concat([
    QUOTE.subarray(QE_REPORT, QE_SIG),
    opts.qeReportSig ?? QUOTE.subarray(QE_SIG, AUTH),
    QUOTE.subarray(AUTH, AUTH + 2 + 32),
    u16(5),
    u32(chain.length),
    chain,
  ]);
  const sigData = Buffer.concat([QUOTE.subarray(SIG, QE_REPORT - 6), u16(6), u32(qe.length), qe]);
  return Buffer.concat([QUOTE.subarray(0, 632), u32(sigData.length), sigData]);
}

describe('TDX: the real v4 quote', () => {
  it('verifies: PCK chain to the pinned Intel root, QE report, attestation key, quote signature', async () => {
    const v = await verifier.verify(QUOTE, EXPECTED, REFERENCE);
    assert.equal(v.ok, true);
    assert.equal(v.kind, 'tdx');
    assert.equal(v.hardware, true);
    assert.equal(v.measurement, MRTD);
    assert.equal(v.verifiedAt, NOW);
    assert.equal(v.expiresAt, undefined);
    assert.equal(v.claims.debug, false);
    assert.equal(v.claims.mrtd, MRTD);
    assert.equal(v.claims.fmspc, '50806f000000');
    assert.equal(v.claims.pckCa, 'platform');
    assert.equal(v.claims.quoteVersion, 4);
    assert.equal(v.claims.tcbStatus, undefined);
    assert.deepEqual(v.claims.policy, {
      tdAttributes: '0000000040000000',
      xfam: '0000000000061ae7',
      debug: false,
      septVeDisable: false,
    });
    assert.equal(v.claims.tcb.tee_tcb_svn_0, 3);
    assert.equal(v.claims.tcb.tee_tcb_svn_2, 4);
    assert.equal(v.claims.tcb.pce_svn, 11);
    assert.equal(v.claims.tcb.qe_svn, 4);
    assert.equal(v.claims.rtmr3, '00'.repeat(48));
    assert.equal(String(v.claims.rtmr0).slice(0, 8), '2927da70');
    // Base64 text evidence, and the quote without go-tdx-guest's unsigned trailing test bytes.
    await verifier.verify(QUOTE.toString('base64'), EXPECTED, REFERENCE);
    await verifier.verify(QUOTE.subarray(0, QUOTE.length - PARSED.trailingBytes), EXPECTED, REFERENCE);
  });

  it('parses header, body, QE report and the PCK SGX extension per the layout', () => {
    const q = PARSED;
    assert.equal(q.header.version, 4);
    assert.equal(q.header.attestationKeyType, 2);
    assert.equal(q.header.teeType, 0x81);
    assert.equal(q.trailingBytes, 39);
    assert.equal(Buffer.from(q.body.mrTd).toString('hex'), MRTD);
    assert.equal(q.qeReport.isvProdId, 2);
    assert.equal(q.qeReport.isvSvn, 4);
    assert.deepEqual([...q.qeAuthData], [...Array(32).keys()]);
    assert.equal(Buffer.from(q.qeReport.mrSigner).toString('hex').slice(0, 8), 'dc9e2a7c');
    const want = createHash('sha256').update(q.attestationKey).update(q.qeAuthData).digest();
    assert.deepEqual(Buffer.from(q.qeReport.reportData.subarray(0, 32)), want);
    const leaf = new X509Certificate(q.pckChainPem.split(/(?=-----BEGIN)/)[0] ?? '');
    const ext = parsePckExtension(leaf.raw);
    assert.equal(ext.fmspc, '50806f000000');
    assert.equal(ext.pceId, '0000');
    assert.equal(ext.pceSvn, 11);
    assert.deepEqual(ext.sgxTcbCompSvns, [3, 3, 2, 2, 2, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('rejects every flipped bit of header ‖ body (the signed bytes)', async () => {
    const codes = new Map<string, number>();
    const started = performance.now();
    for (let bit = 0; bit < 632 * 8; bit++) {
      const code = await codeOf(verifier.verify(flipBit(QUOTE, bit), EXPECTED, REFERENCE));
      assert.notEqual(code, 'accepted', `bit ${bit} (byte ${bit >> 3}) flipped was accepted`);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    console.log(
      `5056 signed bits rejected in ${(performance.now() - started).toFixed(0)} ms: ${JSON.stringify([...codes])}`,
    );
    // VERSION: 4 → 5 changes the layout (malformed), the other 15 flips are unsupported; so are
    // all 16 + 32 + 128 flips of ATT_KEY_TYPE, TEE_TYPE and QE_VENDOR_ID. Every other bit fails
    // the quote signature.
    assert.equal(codes.get('malformed_evidence'), 1);
    assert.equal(codes.get('unsupported'), 15 + 16 + 32 + 128);
    assert.equal(codes.get('signature_invalid'), 632 * 8 - 192);
  });

  it('rejects a flipped bit in every byte of the signature data that is checked', async () => {
    const regions: [string, number, number, AttestationErrorCode][] = [
      ['quote signature', SIG, ATT_KEY, 'signature_invalid'],
      ['attestation key', ATT_KEY, ATT_KEY + 64, 'signature_invalid'],
      ['QE report', QE_REPORT, QE_SIG, 'signature_invalid'],
      ['QE report signature', QE_SIG, AUTH, 'signature_invalid'],
      ['QE auth data', AUTH + 2, AUTH + 34, 'signature_invalid'],
    ];
    for (const [name, from, to, code] of regions) {
      for (let byte = from; byte < to; byte++) {
        const got = await codeOf(verifier.verify(flipBit(QUOTE, byte * 8 + (byte % 8)), EXPECTED, REFERENCE));
        assert.equal(got, code, `${name}: byte ${byte} flipped gave ${got}`);
      }
    }
    // Size fields: the certification data type, sizes, and the PCK PEM itself.
    for (const byte of [632, 633, SIG + 128, SIG + 130, AUTH, AUTH + 34, AUTH + 36]) {
      assert.notEqual(
        await codeOf(verifier.verify(flipBit(QUOTE, byte * 8), EXPECTED, REFERENCE)),
        'accepted',
      );
    }
  });

  it('refuses a wrong MRTD, an empty approved list, and unapproved RTMR / MRCONFIGID / MRSEAM', async () => {
    const other = 'ab'.repeat(48);
    await rejects(verifier.verify(QUOTE, EXPECTED, { measurements: [other] }), 'measurement_mismatch');
    await rejects(verifier.verify(QUOTE, EXPECTED, { measurements: [] }), 'measurement_mismatch');
    await verifier.verify(QUOTE, EXPECTED, { measurements: [other, MRTD.toUpperCase()] });
    const rtmr0 = Buffer.from(PARSED.body.rtmr[0]).toString('hex');
    await verifier.verify(QUOTE, EXPECTED, withTdx({ rtmr0: [rtmr0], rtmr3: ['00'.repeat(48)] }));
    await rejects(verifier.verify(QUOTE, EXPECTED, withTdx({ rtmr1: [other] })), 'measurement_mismatch');
    await rejects(verifier.verify(QUOTE, EXPECTED, withTdx({ mrConfigId: [other] })), 'measurement_mismatch');
    await rejects(verifier.verify(QUOTE, EXPECTED, withTdx({ mrOwner: [other] })), 'measurement_mismatch');
    await rejects(verifier.verify(QUOTE, EXPECTED, withTdx({ mrSeam: [other] })), 'measurement_mismatch');
  });

  it('checks TD_ATTRIBUTES and XFAM masks (policy_violation)', async () => {
    // The sample has PKS (bit 30) set and SEPT_VE_DISABLE (bit 28) clear.
    await verifier.verify(
      QUOTE,
      EXPECTED,
      withTdx({ tdAttributes: { mask: 'ffffffffffffffff', value: '40000000' } }),
    );
    const requireSeptVeDisable = withTdx({ tdAttributes: { mask: '10000000', value: '10000000' } });
    await rejects(verifier.verify(QUOTE, EXPECTED, requireSeptVeDisable), 'policy_violation');
    await verifier.verify(QUOTE, EXPECTED, withTdx({ xfam: { mask: 'ff', value: 'e7' } }));
    await rejects(
      verifier.verify(QUOTE, EXPECTED, withTdx({ xfam: { mask: 'ff', value: '07' } })),
      'policy_violation',
    );
  });

  it('refuses debug TDs unless the reference allows debug', async () => {
    // Setting DEBUG in the quote breaks its signature; the policy is exercised on the parsed quote.
    await rejects(verifier.verify(flipBit(QUOTE, (48 + 120) * 8), EXPECTED, REFERENCE), 'signature_invalid');
    const debugAttrs = Uint8Array.from(PARSED.body.tdAttributes);
    debugAttrs[0] = (debugAttrs[0] ?? 0) | 1;
    const debugQuote = { ...PARSED, body: { ...PARSED.body, tdAttributes: debugAttrs } };
    const isDebug = (e: unknown): boolean => e instanceof AttestationError && e.code === 'debug_enabled';
    assert.throws(() => checkTdxQuote(debugQuote, {}, EXPECTED, REFERENCE, RAW_NONCE_BINDING), isDebug);
    checkTdxQuote(debugQuote, {}, EXPECTED, { ...REFERENCE, allowDebug: true }, RAW_NONCE_BINDING);
    checkTdxQuote(PARSED, {}, EXPECTED, REFERENCE, RAW_NONCE_BINDING);
  });

  it('refuses a REPORTDATA that does not bind the nonce (and the TLS key)', async () => {
    const other = Buffer.from(REPORT_DATA);
    other[63] = (other[63] ?? 0) ^ 1;
    await rejects(verifier.verify(QUOTE, { ...EXPECTED, nonce: other }, REFERENCE), 'nonce_mismatch');
    await rejects(
      verifier.verify(QUOTE, { ...EXPECTED, nonce: REPORT_DATA.subarray(0, 32) }, REFERENCE),
      'nonce_mismatch',
    );
    await rejects(
      verifier.verify(QUOTE, { ...EXPECTED, tlsKeyDigest: new Uint8Array(32) }, REFERENCE),
      'key_binding_mismatch',
    );
    // The default binding (ztgate-v1): the sample binds no ztgate nonce.
    await rejects(
      new TdxVerifier().verify(QUOTE, { nonce: new Uint8Array(32), now: NOW }, REFERENCE),
      'nonce_mismatch',
    );
    const nonce = createHash('sha256').update('challenge').digest();
    const tlsKeyDigest = createHash('sha256').update('spki').digest();
    const bound = {
      ...PARSED,
      body: { ...PARSED.body, reportData: ZTGATE_BINDING_V1.expected({ nonce, tlsKeyDigest }) },
    };
    checkTdxQuote(bound, {}, { nonce, tlsKeyDigest, now: NOW }, REFERENCE);
    assert.throws(() => checkTdxQuote(bound, {}, { nonce, now: NOW }, REFERENCE), /key_binding_mismatch/);
    assert.throws(
      () => checkTdxQuote(bound, {}, { nonce: tlsKeyDigest, tlsKeyDigest, now: NOW }, REFERENCE),
      /nonce_mismatch/,
    );
  });

  it('checks reference.minTcb by component name', async () => {
    const at = (minTcb: Record<string, number>): Promise<unknown> =>
      verifier.verify(QUOTE, EXPECTED, { ...REFERENCE, minTcb });
    await at({ tee_tcb_svn_0: 3, tee_tcb_svn_2: 4, pce_svn: 11, qe_svn: 4, sgx_tcb_comp_svn_1: 3 });
    await rejects(at({ tee_tcb_svn_2: 5 }), 'tcb_too_old');
    await rejects(at({ pce_svn: 12 }), 'tcb_too_old');
    await rejects(at({ qe_svn: 5 }), 'tcb_too_old');
    await rejects(at({ microcode: 0 }), 'tcb_too_old');
  });

  it('refuses when a certificate is outside its validity at `now`', async () => {
    // PCK leaf valid 2022-09-20 .. 2029-09-20.
    await rejects(
      verifier.verify(QUOTE, { ...EXPECTED, now: Date.parse('2030-01-01') }, REFERENCE),
      'expired',
    );
    await rejects(
      verifier.verify(QUOTE, { ...EXPECTED, now: Date.parse('2022-01-01') }, REFERENCE),
      'expired',
    );
  });

  it('refuses truncated and malformed quotes', async () => {
    const end = QUOTE.length - PARSED.trailingBytes;
    for (const len of [0, 1, 2, 47, 48, 631, 632, 635, 636, 700, 770, 1153, 1257, 1258, 4000, end - 1]) {
      await rejects(verifier.verify(QUOTE.subarray(0, len), EXPECTED, REFERENCE), 'malformed_evidence');
    }
    await rejects(verifier.verify('not base64!', EXPECTED, REFERENCE), 'malformed_evidence');
    const badSize = Buffer.from(QUOTE);
    badSize.writeUInt32LE(badSize.readUInt32LE(632) - 1, 632); // signature data length
    await rejects(verifier.verify(badSize, EXPECTED, REFERENCE), 'malformed_evidence');
    const badType = Buffer.from(QUOTE);
    badType.writeUInt16LE(5, SIG + 128); // certification data type 5 directly: unsupported here
    await rejects(verifier.verify(badType, EXPECTED, REFERENCE), 'unsupported');
    const v3 = Buffer.from(QUOTE);
    v3.writeUInt16LE(3, 0);
    await rejects(verifier.verify(v3, EXPECTED, REFERENCE), 'unsupported');
    const sgx = Buffer.from(QUOTE);
    sgx.writeUInt32LE(0, 4); // TEE type SGX
    await rejects(verifier.verify(sgx, EXPECTED, REFERENCE), 'unsupported');
  });

  it('verifies the v5 sample quote (TDX 1.5 body), within its PCK validity', async () => {
    const q = parseTdxQuote(QUOTE_V5);
    assert.equal(q.header.version, 5);
    assert.equal(q.bodyType, 3);
    const mrtd = Buffer.from(q.body.mrTd).toString('hex');
    const now = Date.parse('2026-02-15T00:00:00Z'); // its PCK leaf is valid from 2026-01-27
    const v = await verifier.verify(QUOTE_V5, { nonce: q.body.reportData, now }, { measurements: [mrtd] });
    assert.equal(v.claims.quoteVersion, 5);
    assert.equal(v.claims.teeTcbSvn2, Buffer.from(q.body.teeTcbSvn2 ?? []).toString('hex'));
    assert.equal(v.claims.mrservicetd, Buffer.from(q.body.mrServiceTd ?? []).toString('hex'));
    assert.equal((v.claims.policy as Record<string, unknown>).septVeDisable, true);
    await rejects(
      verifier.verify(QUOTE_V5, { nonce: q.body.reportData, now: NOW }, { measurements: [mrtd] }),
      'expired',
    );
    await rejects(
      verifier.verify(flipBit(QUOTE_V5, 60 * 8), { nonce: q.body.reportData, now }, { measurements: [mrtd] }),
      'signature_invalid',
    );
  });
});

describe('TDX: the PCK chain and the pinned Intel SGX Root CA', () => {
  it('bundles the Intel SGX Root CA pinned by SHA-256, the same root the quote carries', () => {
    const root = bundledIntelRoot();
    assert.equal(
      PINNED_INTEL_SGX_ROOT_SHA256,
      '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3',
    );
    assert.equal(createHash('sha256').update(root.raw).digest('hex'), PINNED_INTEL_SGX_ROOT_SHA256);
    assert.equal(
      root.subject.split('\n').find((l) => l.startsWith('CN=')),
      'CN=Intel SGX Root CA',
    );
    const inQuote =
      PARSED.pckChainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    assert.equal(inQuote.length, 3);
    assert.ok(new X509Certificate(inQuote[2] ?? '').raw.equals(root.raw));
    assert.throws(() => loadIntelRoot(AMD_CHAIN), /exactly one/);
    assert.throws(
      () => loadIntelRoot(AMD_CHAIN.match(/-----BEGIN[\s\S]+?-----END CERTIFICATE-----/)?.[0] ?? ''),
      /pinned/,
    );
  });

  it('refuses the AMD SEV-SNP chain in place of the PCK chain', async () => {
    await rejects(verifier.verify(rebuild({ chainPem: AMD_CHAIN }), EXPECTED, REFERENCE), 'chain_invalid');
    // The rebuild helper itself reproduces a verifying quote.
    await verifier.verify(rebuild({}), EXPECTED, REFERENCE);
    // PCK leaf and CA without the root: still verified against the pinned root.
    const [leaf, ca] =
      PARSED.pckChainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    await verifier.verify(rebuild({ chainPem: `${leaf}\n${ca}\n` }), EXPECTED, REFERENCE);
    await rejects(verifier.verify(rebuild({ chainPem: `${leaf}\n` }), EXPECTED, REFERENCE), 'chain_invalid');
    await rejects(
      verifier.verify(rebuild({ chainPem: 'no certificates' }), EXPECTED, REFERENCE),
      'malformed_evidence',
    );
  });

  it('refuses a look-alike chain under a self-made "Intel SGX Root CA", even with a valid QE signature', async () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const gen = async (): Promise<webcrypto.CryptoKeyPair> =>
      (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const [rootKeys, caKeys, leafKeys] = [await gen(), await gen(), await gen()];
    const pemCerts =
      PARSED.pckChainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    const [realLeaf, realCa, realRoot] = pemCerts.map((p) => new x509.X509Certificate(p));
    assert.ok(realLeaf && realCa && realRoot);
    const ca = [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ];
    const validity = { notBefore: new Date('2020-01-01'), notAfter: new Date('2040-01-01') };
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: realRoot.subject,
      keys: rootKeys,
      signingAlgorithm: alg,
      extensions: ca,
      ...validity,
    });
    const inter = await x509.X509CertificateGenerator.create({
      serialNumber: '02',
      issuer: root.subject,
      subject: realCa.subject,
      publicKey: caKeys.publicKey,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: alg,
      extensions: ca,
      ...validity,
    });
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: '03',
      issuer: inter.subject,
      subject: realLeaf.subject,
      publicKey: leafKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: alg,
      ...validity,
      // The real SGX extension (FMSPC, TCB), without the key identifiers that name Intel's CA.
      extensions: realLeaf.extensions.filter((e) => e.type !== '2.5.29.35' && e.type !== '2.5.29.14'),
    });
    const fakeRoot = new X509Certificate(new Uint8Array(root.rawData));
    const chainPem = [leaf, inter, root].map((c) => c.toString('pem')).join('\n');
    // The look-alike chain is internally valid: it verifies against its own root...
    assert.equal(verifyPckChain(chainPem, NOW, fakeRoot).fmspc, '50806f000000');
    const sig = new Uint8Array(await webcrypto.subtle.sign(alg, leafKeys.privateKey, PARSED.qeReport.raw));
    const forged = rebuild({ chainPem, qeReportSig: sig });
    // ...but the verifier only trusts the pinned root: with the fake root, or without it.
    await rejects(verifier.verify(forged, EXPECTED, REFERENCE), 'chain_invalid');
    const noRoot = [leaf, inter].map((c) => c.toString('pem')).join('\n');
    await rejects(
      verifier.verify(rebuild({ chainPem: noRoot, qeReportSig: sig }), EXPECTED, REFERENCE),
      'chain_invalid',
    );
    // And the real PCK key does not verify the look-alike's QE report signature.
    await rejects(verifier.verify(rebuild({ qeReportSig: sig }), EXPECTED, REFERENCE), 'signature_invalid');
  });
});

describe('TDX: collateral (PCS TCB info, QE identity, CRLs)', () => {
  const pck = verifyPckChain(PARSED.pckChainPem, NOW);
  const info = verifySignedCollateral(TCB_INFO, 'tcbInfo', TdxTcbInfoSchema, TCB_SIGNING_CHAIN, NOW);
  const qeId = verifySignedCollateral(
    QE_IDENTITY,
    'enclaveIdentity',
    QeIdentitySchema,
    TCB_SIGNING_CHAIN,
    NOW,
  );

  it('verifies the sample TCB info and QE identity signatures (Intel SGX TCB Signing)', () => {
    assert.equal(info.fmspc, '50806f000000');
    assert.equal(info.tcbLevels.length, 2);
    assert.equal(qeId.isvprodid, 2);
    const tampered = TCB_INFO.replace('"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"');
    assert.notEqual(tampered, TCB_INFO);
    const code = (f: () => unknown): string => {
      try {
        f();
        return 'accepted';
      } catch (e) {
        return e instanceof AttestationError ? e.code : String(e);
      }
    };
    const sc = (body: string, chain = TCB_SIGNING_CHAIN, now = NOW): string =>
      code(() => verifySignedCollateral(body, 'tcbInfo', TdxTcbInfoSchema, chain, now));
    assert.equal(sc(tampered), 'chain_invalid');
    assert.equal(sc(TCB_INFO, PARSED.pckChainPem), 'chain_invalid'); // signer is not TCB Signing
    assert.equal(
      sc(
        TCB_INFO,
        readFileSync(
          new URL('../../../src/runtime/attestation/intel-roots/intel_sgx_root_ca.pem', import.meta.url),
          'utf8',
        ),
      ),
      'chain_invalid',
    );
    assert.equal(sc(TCB_INFO, TCB_SIGNING_CHAIN, Date.parse('2023-08-01')), 'expired'); // nextUpdate 2023-07-18
    assert.equal(sc(QE_IDENTITY), 'malformed_evidence');
    assert.equal(sc('{}'), 'malformed_evidence');
  });

  it('the real collateral: QE identity UpToDate; no TDX TCB level matches this platform → tcb_too_old', async () => {
    assert.deepEqual(evaluateQeIdentity(qeId, PARSED.qeReport), {
      status: 'UpToDate',
      tcbDate: '2023-02-15T00:00:00Z',
      advisoryIds: [],
    });
    // The sample's levels need SGX comp 01 ≥ 5 and TDX comp 02 ≥ 5; this PCK has 3 and TEE_TCB_SVN[2] = 4.
    assert.equal(evaluateTdxTcb(info, pck, PARSED.body), undefined);
    const seen: string[] = [];
    const withCollateral = new TdxVerifier({
      binding: RAW_NONCE_BINDING,
      collateral: (fmspc) => (seen.push(fmspc), COLLATERAL),
    });
    await rejects(withCollateral.verify(QUOTE, EXPECTED, REFERENCE), 'tcb_too_old');
    assert.deepEqual(seen, ['50806f000000']);
    await rejects(
      new TdxVerifier({
        binding: RAW_NONCE_BINDING,
        collateral: { ...COLLATERAL, tcbInfo: TCB_INFO.replace('"pcesvn":11', '"pcesvn":10') },
      }).verify(QUOTE, EXPECTED, REFERENCE),
      'chain_invalid',
    );
    // Without collateral, a reference may require it.
    await rejects(verifier.verify(QUOTE, EXPECTED, withTdx({ requireCollateral: true })), 'tcb_too_old');
  });

  it('evaluates TCB levels (tcbInfo edited in-test, so evaluated without its signature)', () => {
    const level = (sgx: number[], pcesvn: number, tdx: number[], tcbStatus: string) => ({
      tcb: {
        sgxtcbcomponents: [...sgx, ...Array(16 - sgx.length).fill(0)].map((svn: number) => ({ svn })),
        pcesvn,
        tdxtcbcomponents: [...tdx, ...Array(16 - tdx.length).fill(0)].map((svn: number) => ({ svn })),
      },
      tcbStatus,
      advisoryIDs: tcbStatus === 'UpToDate' ? [] : ['INTEL-SA-00837'],
    });
    const edit = (levels: ReturnType<typeof level>[]): TdxTcbInfo => ({ ...info, tcbLevels: levels });
    const up = level([3, 3, 2, 2, 2, 1, 0, 2], 11, [3, 0, 4], 'UpToDate');
    const old = level([3, 3, 2, 2, 2, 1, 0, 2], 5, [3, 0, 3], 'OutOfDate');
    assert.equal(evaluateTdxTcb(edit([up, old]), pck, PARSED.body)?.status, 'UpToDate');
    const newer = level([3, 3, 2, 2, 2, 1, 0, 2], 11, [3, 0, 5], 'UpToDate');
    assert.deepEqual(evaluateTdxTcb(edit([newer, old]), pck, PARSED.body), {
      status: 'OutOfDate',
      tcbDate: undefined,
      advisoryIds: ['INTEL-SA-00837'],
    });
    // No level matches (every level needs more than this platform has).
    const pceTooNew = level([3, 3, 2, 2, 2, 1, 0, 2], 12, [0], 'UpToDate');
    const sgxTooNew = level([3, 3, 2, 2, 2, 1, 0, 3], 0, [0], 'UpToDate');
    assert.equal(evaluateTdxTcb(edit([newer, pceTooNew, sgxTooNew]), pck, PARSED.body), undefined);
    // The selected level's TDX SVN[1] must equal TEE_TCB_SVN[1].
    assert.equal(
      evaluateTdxTcb(edit([level([0], 0, [0, 0], 'UpToDate')]), pck, PARSED.body)?.status,
      'UpToDate',
    );
    const svn1 = { ...PARSED.body, teeTcbSvn: Uint8Array.from([3, 1, 4, ...Array(13).fill(0)]) };
    assert.equal(evaluateTdxTcb(edit([level([0], 0, [0, 0], 'UpToDate')]), pck, svn1), undefined);
    // Another platform's tcbInfo, or another TDX module signer.
    assert.throws(
      () => evaluateTdxTcb({ ...info, fmspc: '00906ed50000' }, pck, PARSED.body),
      /chain_invalid/,
    );
    const otherModule = {
      ...info,
      tdxModule: { mrsigner: '11'.repeat(48), attributes: '00'.repeat(8), attributesMask: 'ff'.repeat(8) },
    };
    assert.throws(() => evaluateTdxTcb(otherModule, pck, PARSED.body), /chain_invalid/);
  });

  it('accepts UpToDate, other statuses only when listed, never Revoked; no level is tcb_too_old', () => {
    const s = (status: string) => ({ status, advisoryIds: ['INTEL-SA-00837'] });
    acceptTcbStatus('TDX', s('UpToDate'), {});
    assert.throws(() => acceptTcbStatus('TDX', s('OutOfDate'), {}), /tcb_too_old.*INTEL-SA-00837/);
    assert.throws(() => acceptTcbStatus('TDX', s('SWHardeningNeeded'), {}), /tcb_too_old/);
    acceptTcbStatus('TDX', s('SWHardeningNeeded'), { acceptedTcbStatuses: ['SWHardeningNeeded'] });
    assert.throws(
      () => acceptTcbStatus('TDX', s('Revoked'), { acceptedTcbStatuses: ['Revoked'] }),
      /tcb_too_old/,
    );
    assert.throws(
      () => acceptTcbStatus('TDX', undefined, { acceptedTcbStatuses: ['OutOfDate'] }),
      /tcb_too_old/,
    );
  });

  it('QE identity: mismatching identity is chain_invalid, a QE below every level has no status', () => {
    assert.throws(
      () => evaluateQeIdentity({ ...qeId, mrsigner: '00'.repeat(32) }, PARSED.qeReport),
      /chain_invalid/,
    );
    assert.throws(() => evaluateQeIdentity({ ...qeId, isvprodid: 1 }, PARSED.qeReport), /chain_invalid/);
    assert.throws(
      () => evaluateQeIdentity({ ...qeId, attributes: '15'.padEnd(32, '0') }, PARSED.qeReport),
      /chain_invalid/,
    );
    assert.equal(evaluateQeIdentity(qeId, { ...PARSED.qeReport, isvSvn: 3 }), undefined);
    const levels = [
      { tcb: { isvsvn: 2 }, tcbStatus: 'OutOfDate' },
      { tcb: { isvsvn: 4 }, tcbStatus: 'UpToDate' },
    ];
    assert.equal(
      evaluateQeIdentity({ ...qeId, tcbLevels: levels }, { ...PARSED.qeReport, isvSvn: 3 })?.status,
      'OutOfDate',
    );
  });

  it('checks the PCK CRL and root CRL: signatures, dates, revocation', () => {
    const crl = verifyCrl(PCK_CRL, pck.intermediate, NOW, 'PCK CRL');
    assert.equal(crl.revoked.size, 44);
    assert.ok(crl.revoked.has('6FC34E5023E728923435D61AA4B83C618166AD35'));
    checkNotRevoked(crl, pck.leaf, 'PCK');
    const revoked = { ...crl, revoked: new Set([...crl.revoked, pck.leaf.serialNumber]) };
    assert.throws(() => checkNotRevoked(revoked, pck.leaf, 'PCK'), /chain_invalid/);
    const rootCrl = verifyCrl(ROOT_CRL, pck.root, NOW, 'root CRL');
    assert.equal(rootCrl.revoked.size, 0);
    assert.throws(() => verifyCrl(PCK_CRL, pck.root, NOW, 'PCK CRL'), /chain_invalid/);
    assert.throws(() => verifyCrl(PCK_CRL, pck.intermediate, Date.parse('2023-08-01'), 'PCK CRL'), /expired/);
    assert.throws(
      () => verifyCrl(flipBit(PCK_CRL, 200 * 8), pck.intermediate, NOW, 'PCK CRL'),
      /chain_invalid|malformed/,
    );
    assert.throws(
      () => verifyCrl(PCK_CRL.subarray(0, 100), pck.intermediate, NOW, 'PCK CRL'),
      /malformed_evidence/,
    );
    const pem = `-----BEGIN X509 CRL-----\n${PCK_CRL.toString('base64')}\n-----END X509 CRL-----\n`;
    assert.equal(verifyCrl(pem, pck.intermediate, NOW, 'PCK CRL').revoked.size, 44);
  });

  it('verification time per quote', async () => {
    for (let i = 0; i < 20; i++) await verifier.verify(QUOTE, EXPECTED, REFERENCE);
    const runs = 200;
    const t = performance.now();
    for (let i = 0; i < runs; i++) await verifier.verify(QUOTE, EXPECTED, REFERENCE);
    const ms = (performance.now() - t) / runs;
    console.log(`tdx verify: ${ms.toFixed(3)} ms/quote (chain parsed and verified every time)`);
    assert.ok(ms < 50, `verification too slow: ${ms} ms`);
  });
});
