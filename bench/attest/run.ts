// bench/attest: what verifying a runtime costs. Side by side in one run:
//   1. SEV-SNP evidence (the real report and VCEK of test/fixtures): the chain cached (as in
//      steady state) and cold (a new verifier per call); dev evidence (a JWS by the agent's key);
//   2. an OpenSSF model signature over a model of --files files of --mb MB each: hashing the files
//      and verifying the bundle (what the runtime agent does at every re-measure);
//   3. the routing check with a cached verdict (RuntimeTrust.status): what a request pays.
//   npm run bench:attest [-- --ms 1000] [-- --files 4] [-- --mb 64]
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RAW_NONCE_BINDING } from '../../src/runtime/attestation/binding.js';
import { DevVerifier, signDevEvidence } from '../../src/runtime/attestation/dev.js';
import { encodeSevSnpEvidence, SevSnpVerifier } from '../../src/runtime/attestation/sev-snp.js';
import { parseTdxQuote } from '../../src/runtime/attestation/tdx-quote.js';
import { TdxVerifier } from '../../src/runtime/attestation/tdx.js';
import type { EvidenceVerifier } from '../../src/runtime/attestation/types.js';
import { privateKeySigner } from '../../src/runtime/model-signing/dsse.js';
import { signModel, verifyModel } from '../../src/runtime/model-signing/index.js';
import { RuntimeTrust } from '../../src/runtime/trust/runtime-trust.js';

const { values } = parseArgs({
  options: {
    ms: { type: 'string', default: '1000' },
    files: { type: 'string', default: '4' },
    mb: { type: 'string', default: '64' },
  },
});
const budgetMs = Number(values.ms);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/** Runs `work` repeatedly for the time budget; returns p50/p99 in µs and the count. */
async function time(work: () => Promise<unknown> | unknown, budget = budgetMs) {
  for (const end = performance.now() + budget / 5; performance.now() < end;) await work();
  const samples: number[] = [];
  for (const end = performance.now() + budget; performance.now() < end;) {
    const t0 = performance.now();
    await work();
    samples.push((performance.now() - t0) * 1000);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), n: samples.length };
}

const rows: [string, { p50: number; p99: number; n: number }][] = [];

// 1. SEV-SNP.
const fixtures = new URL('../../test/fixtures/attestation/sev-snp/', import.meta.url);
const report = await readFile(new URL('attestation.bin', fixtures));
const vcek = await readFile(new URL('vcek.testcer', fixtures));
const evidence = encodeSevSnpEvidence({ report, vcek });
const expected = { nonce: Uint8Array.from([1, 2, 3, 4, 5]), now: Date.parse('2025-06-01T00:00:00Z') };
const reference = { measurements: [report.subarray(0x90, 0xc0).toString('hex')], allowDebug: true };
const warm = new SevSnpVerifier({ binding: RAW_NONCE_BINDING });
rows.push([
  'SEV-SNP report, VCEK chain cached',
  await time(() => warm.verify(evidence, expected, reference)),
]);
rows.push([
  'SEV-SNP report, cold (chain verified too)',
  await time(() => new SevSnpVerifier({ binding: RAW_NONCE_BINDING }).verify(evidence, expected, reference)),
]);

// 1a. Intel TDX quote v4 (the real quote of test/fixtures): PCK chain to the pinned root, QE
// report, quote signature, MRTD; then with the signed PCS collateral (TCB info, QE identity, CRLs).
{
  const tdxDir = new URL('../../test/fixtures/attestation/tdx/', import.meta.url);
  const quote = await readFile(new URL('tdx_prod_quote_SPR_E4.dat', tdxDir));
  const parsed = parseTdxQuote(quote);
  const tdxExpected = { nonce: Buffer.from(parsed.body.reportData), now: Date.parse('2023-06-20T00:00:00Z') };
  const tdxReference = { measurements: [Buffer.from(parsed.body.mrTd).toString('hex')] };
  const plain = new TdxVerifier({ binding: RAW_NONCE_BINDING });
  rows.push([
    'TDX quote v4 (PCK chain, QE report, quote signature)',
    await time(() => plain.verify(quote, tdxExpected, tdxReference)),
  ]);
  const collateral = {
    tcbInfo: (await readFile(new URL('sample_tcbInfo_response', tdxDir))).toString('utf8'),
    qeIdentity: (await readFile(new URL('sample_qeIdentity_response', tdxDir))).toString('utf8'),
    tcbSigningChain: (await readFile(new URL('tcb_signing_chain.pem', tdxDir))).toString('utf8'),
    pckCrl: await readFile(new URL('pckcrl', tdxDir)),
    rootCrl: await readFile(new URL('rootcrl.der', tdxDir)),
  };
  const full = new TdxVerifier({ binding: RAW_NONCE_BINDING, collateral });
  // The sample collateral has no TCB level for this platform: the verdict is tcb_too_old, after
  // every signature, CRL and level has been checked, which is the cost measured here.
  rows.push([
    'TDX quote v4 + signed PCS collateral (TCB info, QE identity, CRLs)',
    await time(() => full.verify(quote, tdxExpected, tdxReference).catch(() => undefined)),
  ]);
}

// 1b. dev evidence (the agent's software key; no hardware root).
{
  const agentKey = generateKeyPairSync('ed25519');
  const nonce = Buffer.alloc(32, 9);
  const measurements = { weights: 'aa'.repeat(32), agent: 'bb'.repeat(32), config: 'cc'.repeat(32) };
  const token = await signDevEvidence({
    privateKey: agentKey.privateKey,
    nonce,
    measurements,
    spiffeId: 'spiffe://bench/agent/a',
  });
  const dev = new DevVerifier();
  const devReference = {
    measurements: [measurements.weights],
    dev: { publicKey: agentKey.publicKey.export({ format: 'pem', type: 'spki' }).toString() },
  };
  rows.push([
    'dev evidence (EdDSA JWS, pinned key)',
    await time(() => dev.verify(token, { nonce, now: Date.now() }, devReference)),
  ]);
}

// 2. Model signature over real files.
const dir = await mkdtemp(join(tmpdir(), 'ztgate-bench-attest-'));
const files = Number(values.files);
const mb = Number(values.mb);
try {
  const model = join(dir, 'model');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(model);
  const chunk = Buffer.alloc(mb << 20, 7);
  for (let i = 0; i < files; i++) {
    chunk.writeUInt32LE(i, 0);
    await writeFile(join(model, `weights-${i}.bin`), chunk);
  }
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  await signModel(model, { signer: privateKeySigner(keys.privateKey) });
  const trust = { publicKey: keys.publicKey };
  rows.push([
    `model signature over ${files} × ${mb} MB (hash every file + verify)`,
    await time(
      () => verifyModel(model, join(model, 'model.sig'), { trust } as never),
      Math.max(budgetMs, 3000),
    ),
  ]);
} finally {
  await rm(dir, { recursive: true, force: true });
}

// 3. Routing's check on a cached verdict.
const accept: EvidenceVerifier = {
  kind: 'dev',
  verify: async (_e, x) => ({
    ok: true,
    kind: 'dev',
    measurement: 'ab',
    claims: { debug: false, tcb: {}, policy: {} },
    hardware: false,
    verifiedAt: x.now,
  }),
};
const runtimeTrust = new RuntimeTrust({
  runtimes: [
    {
      id: 'r',
      kind: 'dev',
      reference: { measurements: ['ab'] },
      freshnessMs: 600_000,
      challenge: async () => ({ evidence: 'e' }),
    },
  ],
  verifiers: new Map([['dev', accept]]),
  record: async () => undefined,
});
await runtimeTrust.attest('r');
rows.push([
  'routing check with a cached verdict (RuntimeTrust.status)',
  await time(() => runtimeTrust.status('r')),
]);

console.log(`# bench/attest — Node ${process.version}\n`);
console.log('| what | p50 µs | p99 µs | runs |');
console.log('|---|---:|---:|---:|');
for (const [name, r] of rows) console.log(`| ${name} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.n} |`);
