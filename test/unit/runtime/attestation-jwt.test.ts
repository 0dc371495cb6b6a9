// Attestation-service tokens (Azure Attestation, Google Confidential Space, IETF RATS EAR): the
// verifiers fetch real JWKS documents over HTTP from a loopback server (Azure's x5c-only `/certs`
// form, Google's OIDC discovery → jwks_uri, a Veraison-style JWKS), and verify tokens minted here
// over the services' recorded claim sets (test/fixtures/attestation/*-claims.json, see SOURCE.md)
// with keys generated in the test.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, exportSPKI, SignJWT, type JWK } from 'jose';
import { x509 } from '../../../src/mesh/x509.js';
import { AzureAttestationVerifier } from '../../../src/runtime/attestation/azure-attestation.js';
import { EarVerifier } from '../../../src/runtime/attestation/ear.js';
import {
  CONFIDENTIAL_SPACE_ISSUER,
  GcpConfidentialSpaceVerifier,
} from '../../../src/runtime/attestation/gcp-confidential-space.js';
import {
  encodeBindingNonce,
  encodeBindingNonceHalves,
} from '../../../src/runtime/attestation/jwt-evidence.js';
import {
  AttestationError,
  type AttestationErrorCode,
  type EvidenceVerifier,
  type ExpectedBinding,
  type ReferenceValues,
} from '../../../src/runtime/attestation/types.js';

type Claims = Record<string, unknown>;
const FIXTURES = new URL('../../fixtures/attestation/', import.meta.url);
const fixture = (name: string): Claims => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Claims;
const AZURE = fixture('azure-attestation-claims.json');
const GCP = fixture('gcp-confidential-space-claims.json');
const EAR = fixture('ear-claims.json');

const b64u = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

async function rejects(p: Promise<unknown>, code: AttestationErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AttestationError, `not an AttestationError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

// ---- loopback key server ------------------------------------------------------------------

const routes = new Map<string, unknown>();
const hits = new Map<string, number>();
const server = createServer((req, res) => {
  const path = req.url ?? '/';
  hits.set(path, (hits.get(path) ?? 0) + 1);
  const body = routes.get(path);
  if (body === undefined) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
});
let base = '';

interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JWK;
}

async function rsaKey(kid: string): Promise<SigningKey & { x5c: string }> {
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=attestation token signing',
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg,
    keys,
  });
  const publicKey = KeyObject.from(keys.publicKey);
  return {
    privateKey: KeyObject.from(keys.privateKey),
    publicKey,
    jwk: { ...(await exportJWK(publicKey)), kid },
    x5c: Buffer.from(cert.rawData).toString('base64'),
  };
}

async function ecKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' } };
}

async function mint(
  claims: Claims,
  key: SigningKey,
  header: Record<string, unknown> & { alg: string },
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
}

const unsigned = (claims: Claims): string => `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u(claims)}.`;

async function hs256WithPublicKey(claims: Claims, key: SigningKey, kid: string): Promise<string> {
  const secret = new TextEncoder().encode(await exportSPKI(key.publicKey));
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(secret);
}

const nowS = (): number => Math.floor(Date.now() / 1000);
function fresh(): ExpectedBinding {
  return {
    nonce: randomBytes(32),
    tlsKeyDigest: createHash('sha256').update(randomBytes(64)).digest(),
    now: Date.now(),
  };
}
const times = (lifetime = 3600): Claims => ({ iat: nowS() - 5, nbf: nowS() - 5, exp: nowS() + lifetime });

/** Runs `n` verifications and returns ms per verification. */
async function timePerVerification(n: number, run: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await run();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await run();
  return (performance.now() - t0) / n;
}

/** The generic token attacks every JWT verifier must refuse. */
async function commonAttacks(opts: {
  verifier: EvidenceVerifier;
  reference: ReferenceValues;
  claims: (e: ExpectedBinding) => Claims;
  key: SigningKey;
  alg: string;
  kid: string;
  extraHeader?: Record<string, unknown>;
  attacker: SigningKey;
}): Promise<void> {
  const { verifier, reference, key, alg, kid, attacker } = opts;
  const header = { alg, kid, typ: 'JWT', ...opts.extraHeader };
  const e = fresh();
  const good = opts.claims(e);
  await rejects(verifier.verify(unsigned(good), e, reference), 'signature_invalid');
  await rejects(verifier.verify(await hs256WithPublicKey(good, key, kid), e, reference), 'signature_invalid');
  await rejects(
    verifier.verify(await mint(good, key, { ...header, kid: 'not-in-the-jwks' }), e, reference),
    'signature_invalid',
  );
  // another key claiming the service's kid
  await rejects(verifier.verify(await mint(good, attacker, header), e, reference), 'signature_invalid');
  // jku pointing at the attacker's JWKS (served, so a verifier that followed it would accept)
  routes.set('/evil/jwks', { keys: [{ ...attacker.jwk, kid: 'evil' }] });
  await rejects(
    verifier.verify(await mint(good, attacker, { alg, kid: 'evil', jku: `${base}/evil/jwks` }), e, reference),
    'signature_invalid',
  );
  // embedded jwk / x5c
  await rejects(
    verifier.verify(await mint(good, attacker, { alg, jwk: attacker.jwk }), e, reference),
    'signature_invalid',
  );
  await rejects(
    verifier.verify(await mint(good, attacker, { alg, kid, x5c: ['MIIB'] }), e, reference),
    'signature_invalid',
  );
  assert.equal(hits.get('/evil/jwks'), undefined, 'the jku URL must never be fetched');
  // a flipped signature byte
  const token = await mint(good, key, header);
  const flipped = token.slice(0, -3) + (token.at(-3) === 'A' ? 'B' : 'A') + token.slice(-2);
  await rejects(verifier.verify(flipped, e, reference), 'signature_invalid');
  await rejects(verifier.verify('not a token', e, reference), 'malformed_evidence');
  // time
  await rejects(
    verifier.verify(
      await mint({ ...good, iat: nowS() - 7200, nbf: nowS() - 7200, exp: nowS() - 3600 }, key, header),
      e,
      reference,
    ),
    'expired',
  );
  await rejects(
    verifier.verify(
      await mint({ ...good, iat: nowS(), nbf: nowS() + 3600, exp: nowS() + 7200 }, key, header),
      e,
      reference,
    ),
    'expired',
  );
  // another challenge
  await rejects(
    verifier.verify(await mint(opts.claims(fresh()), key, header), e, reference),
    'nonce_mismatch',
  );
  // the same nonce, another TLS key
  await rejects(
    verifier.verify(
      await mint(opts.claims({ ...e, tlsKeyDigest: randomBytes(32) }), key, header),
      e,
      reference,
    ),
    'key_binding_mismatch',
  );
}

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

// ---- Azure Attestation --------------------------------------------------------------------

describe('Azure Attestation tokens', () => {
  const ISSUER = 'https://sharedeus2.eus2.attest.azure.net';
  const MEASUREMENT = String((AZURE['x-ms-isolation-tee'] as Claims)['x-ms-sevsnpvm-launchmeasurement']);
  const REFERENCE: ReferenceValues = { measurements: [MEASUREMENT], minTcb: { snp: 6, microcode: 93 } };
  let key: SigningKey & { x5c: string };
  let attacker: SigningKey;
  let verifier: AzureAttestationVerifier;
  const KID = 'dRKh+hBcWUfQimSl3Iv6ZhStW3TSOt0ThwiTgUUqZAo=';

  before(async () => {
    key = await rsaKey(KID);
    attacker = await rsaKey(KID);
    // MAA's /certs form: kty, kid and x5c only (no n/e).
    routes.set('/azure/certs', { keys: [{ x5c: [key.x5c], kid: KID, kty: 'RSA' }] });
    verifier = new AzureAttestationVerifier({ issuer: ISSUER, jwksUrl: `${base}/azure/certs` });
  });

  function claims(e: ExpectedBinding, tee: Claims = {}, top: Claims = {}): Claims {
    const c = structuredClone(AZURE);
    Object.assign(c['x-ms-isolation-tee'] as Claims, tee);
    ((c['x-ms-runtime'] as Claims)['client-payload'] as Claims).nonce = Buffer.from(
      encodeBindingNonce(e),
      'base64url',
    ).toString('base64');
    return { ...c, ...times(8 * 3600), iss: ISSUER, ...top };
  }
  const header = { alg: 'RS256', jku: `${ISSUER}/certs`, kid: KID, typ: 'JWT' };

  it('accepts a guest attestation token and maps its claims', async () => {
    const e = fresh();
    const v = await verifier.verify(await mint(claims(e), key, header), e, REFERENCE);
    assert.equal(v.kind, 'azure-attestation');
    assert.equal(v.hardware, true);
    assert.equal(v.measurement, MEASUREMENT);
    assert.equal(v.claims.attestationType, 'sevsnpvm');
    assert.equal(v.claims.complianceStatus, 'azure-compliant-cvm');
    assert.deepEqual(v.claims.tcb, { bootloader: 2, tee: 0, snp: 6, microcode: 93 });
    assert.equal(v.claims.debug, false);
    assert.ok(v.expiresAt && v.expiresAt > Date.now());
    assert.equal(hits.get('/azure/certs'), 1);
  });

  it('accepts a direct TDX token (claims at the top level, runtime data as x-ms-runtime)', async () => {
    const e = fresh();
    const mrtd = 'a'.repeat(96);
    const token = await mint(
      {
        ...times(),
        iss: ISSUER,
        'x-ms-attestation-type': 'tdxvm',
        'x-ms-compliance-status': 'azure-compliant-cvm',
        tdx_mrtd: mrtd,
        tdx_td_attributes_debug: false,
        'x-ms-runtime': { nonce: encodeBindingNonce(e) },
        'x-ms-ver': '1.0',
      },
      key,
      header,
    );
    const v = await verifier.verify(token, e, { measurements: [mrtd] });
    assert.equal(v.claims.attestationType, 'tdxvm');
    await rejects(
      verifier.verify(token, e, { measurements: [mrtd], azure: { attestationTypes: ['sevsnpvm'] } }),
      'policy_violation',
    );
  });

  it('refuses forged, misissued, stale and replayed tokens', async () => {
    await commonAttacks({
      verifier,
      reference: REFERENCE,
      claims: (e) => claims(e),
      key,
      alg: 'RS256',
      kid: KID,
      extraHeader: { jku: `${ISSUER}/certs` },
      attacker,
    });
    const e = fresh();
    await rejects(
      verifier.verify(
        await mint(claims(e, {}, { iss: 'https://evil.attest.azure.net' }), key, header),
        e,
        REFERENCE,
      ),
      'chain_invalid',
    );
    const withAud = new AzureAttestationVerifier({
      issuer: ISSUER,
      jwksUrl: `${base}/azure/certs`,
      audience: 'ztgate',
    });
    await rejects(
      withAud.verify(await mint(claims(e, {}, { aud: 'someone-else' }), key, header), e, REFERENCE),
      'policy_violation',
    );
    assert.ok(await withAud.verify(await mint(claims(e, {}, { aud: 'ztgate' }), key, header), e, REFERENCE));
  });

  it('maps the TEE claims to reference values', async () => {
    const e = fresh();
    const go = async (tee: Claims, top: Claims = {}, ref: ReferenceValues = REFERENCE): Promise<unknown> =>
      verifier.verify(await mint(claims(e, tee, top), key, header), e, ref);
    await rejects(go({ 'x-ms-sevsnpvm-is-debuggable': true }), 'debug_enabled');
    await rejects(go({}, { 'x-ms-azurevm-kerneldebug-enabled': true }), 'debug_enabled');
    assert.ok(await go({ 'x-ms-sevsnpvm-is-debuggable': true }, {}, { ...REFERENCE, allowDebug: true }));
    await rejects(go({ 'x-ms-sevsnpvm-launchmeasurement': 'bb'.repeat(48) }), 'measurement_mismatch');
    await rejects(go({ 'x-ms-compliance-status': 'azure-compliant-uvm' }), 'policy_violation');
    await rejects(go({ 'x-ms-attestation-type': 'sgx' }), 'unsupported');
    await rejects(go({}, { secureboot: false }), 'policy_violation');
    await rejects(go({ 'x-ms-sevsnpvm-migration-allowed': true }), 'policy_violation');
    await rejects(go({ 'x-ms-sevsnpvm-snpfw-svn': 5 }), 'tcb_too_old');
    await rejects(
      go({}, {}, { ...REFERENCE, sevSnp: { hostData: ['11'.repeat(32)] } }),
      'measurement_mismatch',
    );
    await rejects(go({}, {}, { ...REFERENCE, sevSnp: { vmpl: [1] } }), 'policy_violation');
    await rejects(go({ 'x-ms-sevsnpvm-is-debuggable': 'no' }), 'malformed_evidence');
  });

  it('verifies in well under a millisecond once the JWKS is cached', async () => {
    const e = fresh();
    const token = await mint(claims(e), key, header);
    const ms = await timePerVerification(300, () => verifier.verify(token, e, REFERENCE));
    console.log(`azure-attestation: ${ms.toFixed(3)} ms per verification (RS256, cached JWKS)`);
    assert.ok(ms < 20);
  });
});

// ---- Google Confidential Space ------------------------------------------------------------

describe('Google Confidential Space tokens', () => {
  const AUDIENCE = 'https://ztgate.example/attestation';
  const DIGEST = String((GCP.submods as { container: Claims }).container.image_digest);
  const REFERENCE: ReferenceValues = { measurements: [DIGEST] };
  const KID = '6e66f1aededf736581df2599ee20387718978dcd';
  let key: SigningKey;
  let attacker: SigningKey;
  let verifier: GcpConfidentialSpaceVerifier;

  before(async () => {
    key = await rsaKey(KID);
    attacker = await rsaKey(KID);
    routes.set('/gcp/.well-known/openid-configuration', {
      issuer: CONFIDENTIAL_SPACE_ISSUER,
      jwks_uri: `${base}/gcp/jwks`,
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['id_token'],
    });
    routes.set('/gcp/jwks', { keys: [{ ...key.jwk, alg: 'RS256', use: 'sig' }] });
    verifier = new GcpConfidentialSpaceVerifier({
      audience: AUDIENCE,
      discoveryUrl: `${base}/gcp/.well-known/openid-configuration`,
    });
  });

  function claims(e: ExpectedBinding, top: Claims = {}, container: Claims = {}): Claims {
    const c = structuredClone(GCP);
    const submods = c.submods as { container: Claims; confidential_space: Claims };
    Object.assign(submods.container, container);
    submods.confidential_space.support_attributes = ['LATEST', 'STABLE', 'USABLE'];
    return { ...c, ...times(), aud: AUDIENCE, eat_nonce: encodeBindingNonceHalves(e), ...top };
  }
  const header = { alg: 'RS256', kid: KID, typ: 'JWT' };

  it('accepts a production token (keys via OIDC discovery)', async () => {
    const e = fresh();
    const v = await verifier.verify(await mint(claims(e), key, header), e, REFERENCE);
    assert.equal(v.kind, 'gcp-confidential-space');
    assert.equal(v.measurement, DIGEST.replace('sha256:', ''));
    assert.equal(v.claims.hwmodel, 'GCP_AMD_SEV');
    assert.equal(v.claims.debug, false);
    assert.equal(hits.get('/gcp/.well-known/openid-configuration'), 1);
    // one 64-byte nonce entry works too, next to unrelated nonces
    const one = claims(e, { eat_nonce: ['thisIsAcustomNonce', encodeBindingNonce(e)] });
    assert.ok(await verifier.verify(await mint(one, key, header), e, REFERENCE));
  });

  it('refuses forged, misissued, stale and replayed tokens', async () => {
    await commonAttacks({
      verifier,
      reference: REFERENCE,
      claims: (e) => claims(e),
      key,
      alg: 'RS256',
      kid: KID,
      attacker,
    });
    const e = fresh();
    await rejects(
      verifier.verify(
        await mint(claims(e, { iss: 'https://accounts.google.com' }), key, header),
        e,
        REFERENCE,
      ),
      'chain_invalid',
    );
    await rejects(
      verifier.verify(
        await mint(claims(e, { aud: 'https://sts.googleapis.com' }), key, header),
        e,
        REFERENCE,
      ),
      'policy_violation',
    );
    await rejects(
      verifier.verify(await mint(claims(e, { eat_nonce: undefined }), key, header), e, REFERENCE),
      'nonce_mismatch',
    );
  });

  it('maps the claims to reference values', async () => {
    const e = fresh();
    const go = async (
      top: Claims,
      container: Claims = {},
      ref: ReferenceValues = REFERENCE,
    ): Promise<unknown> => verifier.verify(await mint(claims(e, top, container), key, header), e, ref);
    await rejects(go({ dbgstat: 'enabled' }), 'debug_enabled');
    await rejects(go({}, { image_digest: `sha256:${'0'.repeat(64)}` }), 'measurement_mismatch');
    await rejects(go({ secboot: false }), 'policy_violation');
    await rejects(go({ hwmodel: 'GCP_SHIELDED_VM' }), 'policy_violation');
    await rejects(go({ swname: 'GCE' }), 'unsupported');
    const experimental = claims(e);
    (experimental.submods as { confidential_space: Claims }).confidential_space.support_attributes = [
      'EXPERIMENTAL',
    ];
    await rejects(verifier.verify(await mint(experimental, key, header), e, REFERENCE), 'policy_violation');
    await rejects(
      go(
        {},
        {},
        { ...REFERENCE, gcpConfidentialSpace: { serviceAccounts: ['other@x.iam.gserviceaccount.com'] } },
      ),
      'policy_violation',
    );
    assert.ok(await go({ hwmodel: 'GCP_INTEL_TDX' }, {}, { measurements: [DIGEST.replace('sha256:', '')] }));
  });

  it('refuses a discovery document naming another issuer', async () => {
    routes.set('/gcp2/.well-known/openid-configuration', {
      issuer: 'https://evil.example',
      jwks_uri: `${base}/gcp/jwks`,
    });
    const v2 = new GcpConfidentialSpaceVerifier({
      audience: AUDIENCE,
      discoveryUrl: `${base}/gcp2/.well-known/openid-configuration`,
    });
    const e = fresh();
    await rejects(v2.verify(await mint(claims(e), key, header), e, REFERENCE), 'chain_invalid');
  });

  it('verifies in well under a millisecond once the JWKS is cached', async () => {
    const e = fresh();
    const token = await mint(claims(e), key, header);
    const ms = await timePerVerification(300, () => verifier.verify(token, e, REFERENCE));
    console.log(`gcp-confidential-space: ${ms.toFixed(3)} ms per verification (RS256, cached JWKS)`);
    assert.ok(ms < 20);
  });
});

// ---- EAR ----------------------------------------------------------------------------------

describe('EAR attestation results', () => {
  const PATH = ['ear.veraison.annotated-evidence', 'psa-software-components', '0', 'measurement-value'];
  const BL = Buffer.from('h0KPxSKAPTEGXnvOPPA/5HUJZjHl4Hu9eg/eYMTPJcc=', 'base64').toString('hex');
  const REFERENCE: ReferenceValues = {
    measurements: [BL],
    ear: {
      measurementPath: PATH,
      submods: ['PSA_IOT'],
      verifierIds: [{ developer: 'Veraison Project' }],
      requireHardware: true,
    },
  };
  const KID = 'veraison-ear';
  let key: SigningKey;
  let attacker: SigningKey;
  let verifier: EarVerifier;

  before(async () => {
    key = await ecKey(KID);
    attacker = await ecKey(KID);
    routes.set('/ear/jwks', { keys: [key.jwk] });
    verifier = new EarVerifier({ jwksUrl: `${base}/ear/jwks` });
  });

  function claims(e: ExpectedBinding, top: Claims = {}, submod: Claims = {}): Claims {
    const c = structuredClone(EAR);
    Object.assign((c.submods as { PSA_IOT: Claims }).PSA_IOT, submod);
    return { ...c, iat: nowS() - 5, eat_nonce: encodeBindingNonce(e), ...top };
  }
  const header = { alg: 'ES256', kid: KID, typ: 'JWT' };

  it('accepts an affirming EAR', async () => {
    const e = fresh();
    const v = await verifier.verify(await mint(claims(e), key, header), e, REFERENCE);
    assert.equal(v.kind, 'ear');
    assert.equal(v.measurement, BL);
    assert.equal(v.hardware, true);
    assert.equal(v.claims.measuredSubmod, 'PSA_IOT');
    assert.ok(v.expiresAt && v.expiresAt <= Date.now() + 600_000);
    // a pinned public key instead of a JWKS URL
    const pinned = new EarVerifier({ publicKey: key.jwk as Record<string, unknown> });
    assert.ok(await pinned.verify(await mint(claims(e), key, { alg: 'ES256' }), e, REFERENCE));
  });

  it('refuses forged, stale and replayed results', async () => {
    await commonAttacks({
      verifier,
      reference: REFERENCE,
      claims: (e) => ({ ...claims(e), exp: nowS() + 300 }),
      key,
      alg: 'ES256',
      kid: KID,
      attacker,
    });
    const e = fresh();
    // no exp: iat older than the maximum age
    await rejects(
      verifier.verify(await mint(claims(e, { iat: nowS() - 3600 }), key, header), e, REFERENCE),
      'expired',
    );
    await rejects(
      verifier.verify(await mint(claims(e, { iat: undefined }), key, header), e, REFERENCE),
      'malformed_evidence',
    );
    const withIss = new EarVerifier({ jwksUrl: `${base}/ear/jwks`, issuer: 'https://veraison.example' });
    await rejects(
      withIss.verify(await mint(claims(e, { iss: 'https://evil.example' }), key, header), e, REFERENCE),
      'chain_invalid',
    );
  });

  it('requires affirming submodules, the expected verifier and an approved measurement', async () => {
    const e = fresh();
    const go = async (top: Claims, submod: Claims = {}, ref: ReferenceValues = REFERENCE): Promise<unknown> =>
      verifier.verify(await mint(claims(e, top, submod), key, header), e, ref);
    await rejects(go({}, { 'ear.status': 'warning' }), 'policy_violation');
    await rejects(
      go({}, { 'ear.status': 'contraindicated', 'ear.trustworthiness-vector': { executables: 33 } }),
      'policy_violation',
    );
    await rejects(go({}, { 'ear.status': 'none' }), 'policy_violation');
    await rejects(go({}, { 'ear.status': 'great' }), 'malformed_evidence');
    assert.ok(
      await go(
        {},
        { 'ear.status': 'warning' },
        { ...REFERENCE, ear: { ...REFERENCE.ear, allowWarning: true } },
      ),
    );
    await rejects(go({}, {}, { ...REFERENCE, measurements: ['00'.repeat(32)] }), 'measurement_mismatch');
    await rejects(go({ 'ear.verifier-id': { developer: 'Someone Else', build: '1' } }), 'policy_violation');
    await rejects(go({ eat_profile: 'tag:example.com,2024:other' }), 'unsupported');
    await rejects(go({}, { 'ear.trustworthiness-vector': { hardware: 0 } }), 'policy_violation');
    await rejects(
      go({}, {}, { ...REFERENCE, ear: { ...REFERENCE.ear, submods: ['PSA_IOT', 'GPU0'] } }),
      'policy_violation',
    );
    // a CoCo Trustee shaped submodule: the default measurement path, and a debug claim
    const snp = { measurement: 'ab'.repeat(48), policy_debug_allowed: true };
    const coco = {
      submods: { cpu0: { 'ear.status': 'affirming', 'ear.veraison.annotated-evidence': { snp } } },
    };
    const cocoRef: ReferenceValues = { measurements: ['ab'.repeat(48)] };
    const v = await go(coco, {}, cocoRef);
    assert.equal((v as { hardware: boolean }).hardware, false);
    const debugPath = ['ear.veraison.annotated-evidence', 'snp', 'policy_debug_allowed'];
    await rejects(go(coco, {}, { ...cocoRef, ear: { debugPath } }), 'debug_enabled');
  });

  it('verifies in well under a millisecond once the JWKS is cached', async () => {
    const e = fresh();
    const token = await mint(claims(e), key, header);
    const ms = await timePerVerification(300, () => verifier.verify(token, e, REFERENCE));
    console.log(`ear: ${ms.toFixed(3)} ms per verification (ES256, cached JWKS)`);
    assert.ok(ms < 20);
  });
});
