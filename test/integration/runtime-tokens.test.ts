// A runtime attested through an attestation service: the agent's evidence command fetches an EAR
// (here a real program signing one, as a verifier service would) over the challenge's binding;
// the gateway verifies it against the service key pinned in config, and policy sees a
// hardware-rooted, attested runtime, so restricted data may go there.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type AgentMesh, type RunningAgent } from '../../src/agent/index.js';
import { commandProducer } from '../../src/agent/hardware-evidence.js';
import { createLogger } from '../../src/cli/logger.js';
import { parseConfig } from '../../src/config/index.js';
import type { AuditEntry } from '../../src/core/index.js';
import { builtInBundle, InMemoryRevocationList, WorkloadIdentity } from '../../src/mesh/index.js';
import { privateKeySigner, signModel } from '../../src/runtime/model-signing/index.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { LogCapture } from '../helpers/gateway.js';
import { recordingAuthenticator } from '../helpers/mesh-upstream.js';
import {
  eventually,
  meshHome,
  startMeshGateway,
  TD,
  type MeshGateway,
  type MeshHome,
} from '../helpers/mesh.js';

const AGENT_ID = `spiffe://${TD}/agent/cvm1`;

/** A stand-in for a verifier client: signs an EAR (ES256) over the nonce it was given. */
function earScript(pem: string, measurement: string, status: string): string {
  return `import { createPrivateKey, sign } from 'node:crypto';
const key = createPrivateKey(${JSON.stringify(pem)});
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
const claims = { eat_profile: 'tag:github.com,2023:veraison/ear', iat: Math.floor(Date.now() / 1000),
  eat_nonce: process.env.ZTGATE_BINDING, 'ear.verifier-id': { developer: 'Veraison Project', build: 'v1' },
  submods: { cvm: { 'ear.status': '${status}', 'ear.trustworthiness-vector': { hardware: 2 },
    'ear.veraison.annotated-evidence': { snp: { measurement: '${measurement}' } } } } };
const input = b64({ alg: 'ES256', typ: 'JWT' }) + '.' + b64(claims);
process.stdout.write(input + '.' + sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url'));
`;
}

describe('runtime trust: attestation-service tokens (EAR) from the agent', () => {
  let h: MeshHome;
  let work: string;
  let upstream: FakeUpstream;
  let identity: WorkloadIdentity;
  let agent: RunningAgent;
  let g: MeshGateway;
  const measurement = randomBytes(48).toString('hex');
  let bundleDir: string;
  const runtimesJson = (approved: string) =>
    JSON.stringify({ upstreams: { bundled: { measurements: [approved], ear: { submods: ['cvm'] } } } });

  before(async () => {
    h = await meshHome();
    work = await mkdtemp(join(tmpdir(), 'ztgate-runtime-tokens-'));
    const modelDir = join(work, 'model');
    await mkdir(modelDir);
    await writeFile(join(modelDir, 'weights.bin'), randomBytes(4096));
    const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await signModel(modelDir, { signer: privateKeySigner(signer.privateKey) });
    const service = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const servicePem = join(work, 'ear-service.pem');
    await writeFile(servicePem, service.publicKey.export({ type: 'spki', format: 'pem' }));
    const pkcs8 = service.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(join(work, 'ear.mjs'), earScript(pkcs8, measurement, 'affirming'));

    // The signed-bundle path: the default bundle plus runtimes.json approving `bundled`'s measurement.
    bundleDir = join(work, 'bundle');
    await cp(new URL('../../examples/policies/default', import.meta.url), bundleDir, { recursive: true });
    await writeFile(join(bundleDir, 'runtimes.json'), runtimesJson(measurement));
    upstream = await startFakeUpstream();
    const svid = await h.svid('agent', 'cvm1');
    identity = await WorkloadIdentity.start(() => Promise.resolve(svid));
    const mesh: AgentMesh = {
      spiffeId: svid.spiffeId,
      identity,
      bundle: builtInBundle(TD, h.ca.bundlePem),
      revocations: new InMemoryRevocationList([]),
      close: () => identity.close(),
    };
    agent = await startAgent({
      modelDir,
      signature: join(modelDir, 'model.sig'),
      trust: { publicKey: signer.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
      upstream: upstream.url,
      listen: { host: '127.0.0.1', port: 0 },
      mesh,
      stateDir: join(work, 'state'),
      producer: commandProducer({ kind: 'ear', command: [process.execPath, join(work, 'ear.mjs')] }),
      logger: createLogger('warn', new LogCapture()),
    });
    const upstreamYaml = (approved: string) =>
      `{ kind: openai-compatible, baseUrl: "${agent.url}/v1", retries: 0, mtls: { spiffeIds: ["${AGENT_ID}"] },
      attestation: { kind: ear, measurements: ["${approved}"], service: { publicKey: "file:${servicePem}" },
        ear: { submods: [cvm], verifierIds: [{ developer: Veraison Project }], requireHardware: true } } }`;
    g = await startMeshGateway(
      h.home,
      `
server: { port: 0, adminPort: 0 }
mesh: { enabled: true }
policy: { bundle: "${bundleDir}", watch: false }
upstreams:
  cvm: ${upstreamYaml(measurement)}
  other: ${upstreamYaml('cd'.repeat(48))}
  bundled: ${upstreamYaml('ef'.repeat(48))}
models:
  - { id: m-cvm, upstream: cvm, upstreamModel: fake, attributes: { runtimeKind: on_prem, dataClasses: [public, internal, confidential, restricted] } }
  - { id: m-other, upstream: other, upstreamModel: fake, attributes: { runtimeKind: on_prem, dataClasses: [public, internal, confidential, restricted] } }
`,
      { authenticate: recordingAuthenticator([]) },
    );
  });

  after(async () => {
    await g?.close();
    await agent?.close();
    identity?.close();
    await upstream?.close();
    await h?.close();
    await rm(work, { recursive: true, force: true });
  });

  const ask = (model: string, dataClass: string) =>
    fetch(`${g.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model,
        messages: [{ role: 'user', content: 'summarise', data_class: dataClass }],
      }),
    });

  it('a hardware-rooted token attests the runtime: restricted data may go there', async () => {
    const status = g.gw.runtimeTrust?.trust.status('cvm');
    assert.ok(status?.eligible, 'attested at start');
    assert.equal(status.verdict.kind, 'ear');
    assert.equal(status.verdict.hardware, true);
    assert.equal(status.verdict.measurement, measurement);
    const res = await ask('m-cvm', 'restricted');
    assert.equal(res.status, 200, await res.text());
    const list = (await (await fetch(`${g.gw.dataUrl}/v1/models`)).json()) as {
      data: { id: string; ztgate_runtime?: Record<string, unknown> }[];
    };
    assert.deepEqual(list.data.find((m) => m.id === 'm-cvm')?.ztgate_runtime, {
      attested: true,
      attestation: 'ear',
    });
  });

  it('a token for another measurement is refused, and nothing goes to that runtime', async () => {
    assert.equal(g.gw.runtimeTrust?.trust.status('other').eligible, false);
    const res = await ask('m-other', 'internal');
    assert.equal(res.status, 503);
    let refused: AuditEntry | undefined;
    await eventually(async () => {
      const all = (await g.gw.store.audit.list({ limit: 500 })).map((r) => r.entry);
      refused = all.find((e) => e.action === 'runtime.refused' && e.target === 'runtime:other');
      return refused !== undefined;
    });
    assert.equal(refused?.errorCode, 'measurement_mismatch');
  });

  it('reference values from the signed policy bundle replace config, are recorded, and re-attest on change', async () => {
    const status = g.gw.runtimeTrust?.trust.status('bundled');
    assert.ok(status?.eligible, 'config approves another measurement; the bundle approves this one');
    const all = async () => (await g.gw.store.audit.list({ limit: 1000 })).map((r) => r.entry);
    const references = (await all()).filter(
      (e) => e.action === 'runtime.reference' && e.target === 'runtime:bundled',
    );
    const digest = g.gw.policy.liveBundle().digest;
    assert.ok(references[0]?.transformations.includes(`source:bundle:${digest}`), JSON.stringify(references));
    const other = (await all()).find((e) => e.action === 'runtime.reference' && e.target === 'runtime:other');
    assert.ok(other?.transformations.includes('source:config'));

    // A new bundle approves something else: recorded, re-attested, refused.
    await writeFile(join(bundleDir, 'runtimes.json'), runtimesJson('12'.repeat(48)));
    const result = await g.gw.policy.reload('admin', 'test');
    assert.equal(result.live.outcome, 'replaced');
    assert.equal(g.gw.runtimeTrust?.trust.status('bundled').eligible, false);
    const after = (await all()).filter(
      (e) => e.action === 'runtime.reference' && e.target === 'runtime:bundled',
    );
    assert.equal(after.length, references.length + 1);
    assert.ok(after.at(-1)?.transformations.includes(`source:bundle:${g.gw.policy.liveBundle().digest}`));
    const refused = (await all()).filter(
      (e) => e.action === 'runtime.refused' && e.target === 'runtime:bundled',
    );
    assert.equal(refused.at(-1)?.errorCode, 'measurement_mismatch');

    // An invalid runtimes.json is refused like any bad bundle: the running one stays.
    await writeFile(
      join(bundleDir, 'runtimes.json'),
      JSON.stringify({ upstreams: { bundled: { measurements: ['zz'] } } }),
    );
    const bad = await g.gw.policy.reload('admin', 'test');
    assert.equal(bad.live.outcome, 'rejected');
    assert.equal(bad.live.outcome === 'rejected' ? bad.live.code : '', 'policy.runtimes_invalid');

    // Back to the approving values.
    await writeFile(join(bundleDir, 'runtimes.json'), runtimesJson(measurement));
    await g.gw.policy.reload('admin', 'test');
    assert.equal(g.gw.runtimeTrust?.trust.status('bundled').eligible, true);
  });

  it('config: token kinds need their service, and the service is pinned', () => {
    const cfg = (attestation: string) => `
mesh: { enabled: true }
upstreams:
  u: { kind: openai-compatible, baseUrl: "https://127.0.0.1:1/v1", mtls: { spiffeIds: ["${AGENT_ID}"] }, attestation: ${attestation} }
`;
    const m = `measurements: ["${'ab'.repeat(32)}"]`;
    assert.throws(
      () => parseConfig(cfg(`{ kind: ear, ${m} }`), {}),
      /attestation\.service: required with kind ear/,
    );
    assert.throws(
      () =>
        parseConfig(
          cfg(`{ kind: azure-attestation, ${m}, service: { jwksUrl: "https://x.example/certs" } }`),
          {},
        ),
      /service\.issuer: required/,
    );
    assert.throws(
      () => parseConfig(cfg(`{ kind: gcp-confidential-space, ${m}, service: {} }`), {}),
      /service\.audience: required/,
    );
    assert.throws(
      () => parseConfig(cfg(`{ kind: sev-snp, ${m}, service: { issuer: "https://x.example" } }`), {}),
      /service: not used with kind sev-snp/,
    );
    const ok = parseConfig(
      cfg(`{ kind: sev-snp, ${m}, minTcb: { snp: 8 }, sevSnp: { vmpl: [0], products: [Milan] } }`),
      {},
    );
    assert.deepEqual(ok.upstreams.u?.attestation?.sevSnp, { vmpl: [0], products: ['Milan'] });
  });
});
