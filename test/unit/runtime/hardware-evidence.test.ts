// The agent's hardware evidence producers. No TEE runs here, so configfs-tsm is driven through its
// file seam by a stand-in for the kernel that hands out the real SEV-SNP report of the fixtures;
// the command producer runs a real program that mints an EAR the real verifier checks.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  commandProducer,
  configfsTsmProducer,
  vcekFromCertTable,
  type TsmIo,
} from '../../../src/agent/hardware-evidence.js';
import { ZTGATE_BINDING_V1 } from '../../../src/runtime/attestation/binding.js';
import { EarVerifier } from '../../../src/runtime/attestation/ear.js';
import { encodeSevSnpExtendedReport, SevSnpVerifier } from '../../../src/runtime/attestation/sev-snp.js';
import { AttestationError } from '../../../src/runtime/attestation/types.js';
import type { Measurements } from '../../../src/agent/measure.js';

const FIXTURES = new URL('../../fixtures/attestation/sev-snp/', import.meta.url);
const REPORT = readFileSync(new URL('attestation.bin', FIXTURES));
const VCEK = readFileSync(new URL('vcek.testcer', FIXTURES));
const NOW = Date.parse('2025-06-01T00:00:00Z');
const NO_MEASUREMENTS = {} as Measurements;

/** A stand-in for the kernel's configfs-tsm report entries, recording what the agent did. */
function fakeTsm(options: { provider?: string; aux?: Uint8Array; racing?: boolean; out?: Uint8Array }) {
  const entries = new Map<string, Map<string, Buffer>>();
  const removed: string[] = [];
  let generation = 0;
  const io: TsmIo = {
    mkdir: (path) => {
      entries.set(path, new Map());
      return Promise.resolve();
    },
    writeFile: (path, data) => {
      const dir = path.slice(0, path.lastIndexOf('/'));
      entries.get(dir)?.set(path.slice(dir.length + 1), Buffer.from(data));
      generation++;
      return Promise.resolve();
    },
    readFile: (path) => {
      const dir = path.slice(0, path.lastIndexOf('/'));
      const name = path.slice(dir.length + 1);
      if (!entries.has(dir)) return Promise.reject(new Error('ENOENT'));
      if (name === 'provider') return Promise.resolve(Buffer.from(`${options.provider ?? 'sev_guest'}\n`));
      if (name === 'generation') {
        if (options.racing) generation++;
        return Promise.resolve(Buffer.from(`${generation}\n`));
      }
      if (name === 'outblob') return Promise.resolve(Buffer.from(options.out ?? REPORT));
      if (name === 'auxblob') return Promise.resolve(Buffer.from(options.aux ?? new Uint8Array()));
      return Promise.resolve(entries.get(dir)?.get(name) ?? Buffer.alloc(0));
    },
    rmdir: (path) => {
      removed.push(path);
      entries.delete(path);
      return Promise.resolve();
    },
  };
  return { io, entries, removed, inblobs: () => [...entries.values()].map((e) => e.get('inblob')) };
}

const certTable = (): Uint8Array =>
  encodeSevSnpExtendedReport({ report: REPORT, vcek: VCEK }).subarray(REPORT.length);

describe('configfs-tsm evidence (SEV-SNP, TDX)', () => {
  const nonce = randomBytes(32);
  const tlsKeyDigest = randomBytes(32);

  it('writes the ztgate binding as report_data and hands out the report with the host VCEK', async () => {
    const tsm = fakeTsm({ aux: certTable() });
    let inblob: Buffer | undefined;
    const io: TsmIo = {
      ...tsm.io,
      readFile: async (path) => {
        if (path.endsWith('/outblob')) inblob = tsm.inblobs()[0];
        return tsm.io.readFile(path);
      },
    };
    const producer = configfsTsmProducer({ kind: 'sev-snp', root: '/tsm', io, privlevel: 0 });
    assert.equal(producer.insecure, false);
    const evidence = await producer.produce(nonce, tlsKeyDigest, NO_MEASUREMENTS);
    assert.deepEqual(inblob, Buffer.from(ZTGATE_BINDING_V1.expected({ nonce, tlsKeyDigest })));
    assert.equal(tsm.removed.length, 1, 'the report entry is removed');
    assert.match(tsm.removed[0] ?? '', /^\/tsm\/ztgate-[0-9a-f]{16}$/);
    const parsed = JSON.parse(evidence) as { report: string; vcek: string };
    assert.deepEqual(Buffer.from(parsed.report, 'base64'), REPORT);
    assert.deepEqual(Buffer.from(parsed.vcek, 'base64'), VCEK);
    // The real report and chain verify; its report_data is not this challenge's binding.
    await assert.rejects(
      new SevSnpVerifier().verify(
        evidence,
        { nonce, tlsKeyDigest, now: NOW },
        { measurements: [], allowDebug: true },
      ),
      (e: unknown) => e instanceof AttestationError && e.code === 'nonce_mismatch',
    );
  });

  it('uses the configured VCEK when the host supplies none, and fails without one', async () => {
    const evidence = await configfsTsmProducer({ kind: 'sev-snp', io: fakeTsm({}).io, vcek: VCEK }).produce(
      nonce,
      tlsKeyDigest,
      NO_MEASUREMENTS,
    );
    assert.deepEqual(Buffer.from((JSON.parse(evidence) as { vcek: string }).vcek, 'base64'), VCEK);
    await assert.rejects(
      configfsTsmProducer({ kind: 'sev-snp', io: fakeTsm({}).io }).produce(
        nonce,
        tlsKeyDigest,
        NO_MEASUREMENTS,
      ),
      /no VCEK/,
    );
  });

  it('refuses another provider and a raced entry, and always removes the entry', async () => {
    const wrong = fakeTsm({ provider: 'tdx_guest' });
    await assert.rejects(
      configfsTsmProducer({ kind: 'sev-snp', io: wrong.io, vcek: VCEK }).produce(
        nonce,
        tlsKeyDigest,
        NO_MEASUREMENTS,
      ),
      /provider is tdx_guest, not sev_guest/,
    );
    assert.equal(wrong.removed.length, 1);
    const raced = fakeTsm({ racing: true });
    await assert.rejects(
      configfsTsmProducer({ kind: 'sev-snp', io: raced.io, vcek: VCEK }).produce(
        nonce,
        tlsKeyDigest,
        NO_MEASUREMENTS,
      ),
      /another writer/,
    );
    assert.equal(raced.removed.length, 1);
  });

  it('hands out a TDX quote as base64', async () => {
    const quote = randomBytes(1024);
    const evidence = await configfsTsmProducer({
      kind: 'tdx',
      io: fakeTsm({ provider: 'tdx_guest', out: quote }).io,
    }).produce(nonce, tlsKeyDigest, NO_MEASUREMENTS);
    assert.deepEqual(Buffer.from(evidence, 'base64'), quote);
  });

  it('finds the VCEK in a GHCB certificate table, and nothing in an empty or lying one', () => {
    assert.deepEqual(Buffer.from(vcekFromCertTable(certTable()) ?? []), VCEK);
    assert.equal(vcekFromCertTable(new Uint8Array(24)), undefined);
    const lying = Buffer.from(certTable());
    lying.writeUInt32LE(0xffff, 20); // length beyond the table
    assert.equal(vcekFromCertTable(lying), undefined);
  });
});

describe('command evidence (attestation-service tokens)', () => {
  let dir: string | undefined;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs the program with the binding and verifies the EAR it prints', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ztgate-evidence-cmd-'));
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const measurement = randomBytes(32).toString('hex');
    // A stand-in for a verifier client: signs an EAR over the nonce it was given (ES256).
    const script = join(dir, 'ear.mjs');
    await writeFile(
      script,
      `import { createPrivateKey, sign } from 'node:crypto';
const key = createPrivateKey(${JSON.stringify(privateKey.export({ type: 'pkcs8', format: 'pem' }))});
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const claims = { eat_profile: 'tag:github.com,2023:veraison/ear', iat: Math.floor(Date.now() / 1000),
  eat_nonce: process.env.ZTGATE_BINDING, 'ear.verifier-id': { developer: 'test', build: '1' },
  submods: { cvm: { 'ear.status': 'affirming', 'ear.veraison.annotated-evidence': { snp: { measurement: '${measurement}' } } } } };
const input = b64({ alg: 'ES256', typ: 'JWT' }) + '.' + b64(claims);
process.stdout.write(input + '.' + sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url') + '\\n');
`,
    );
    const producer = commandProducer({ kind: 'ear', command: [process.execPath, script] });
    const nonce = randomBytes(32);
    const tlsKeyDigest = randomBytes(32);
    const token = await producer.produce(nonce, tlsKeyDigest, NO_MEASUREMENTS);
    const verdict = await new EarVerifier({ publicKey }).verify(
      token,
      { nonce, tlsKeyDigest, now: Date.now() },
      { measurements: [measurement] },
    );
    assert.equal(verdict.measurement, measurement);
    // Another challenge's binding does not match the token.
    await assert.rejects(
      new EarVerifier({ publicKey }).verify(
        token,
        { nonce: randomBytes(32), tlsKeyDigest, now: Date.now() },
        { measurements: [measurement] },
      ),
      (e: unknown) => e instanceof AttestationError && e.code === 'nonce_mismatch',
    );
  });

  it('fails on a program that fails or prints no token', async () => {
    await assert.rejects(
      commandProducer({ kind: 'ear', command: [process.execPath, '-e', 'process.exit(3)'] }).produce(
        randomBytes(16),
        randomBytes(32),
        NO_MEASUREMENTS,
      ),
      /evidence command failed/,
    );
    await assert.rejects(
      commandProducer({ kind: 'ear', command: [process.execPath, '-e', 'console.log("hello")'] }).produce(
        randomBytes(16),
        randomBytes(32),
        NO_MEASUREMENTS,
      ),
      /no compact JWT/,
    );
  });
});
