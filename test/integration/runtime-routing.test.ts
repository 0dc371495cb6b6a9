import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type AgentMesh, type RunningAgent } from '../../src/agent/index.js';
import { createLogger } from '../../src/cli/logger.js';
import { parseConfig } from '../../src/config/index.js';
import type { AuditEntry } from '../../src/core/index.js';
import { builtInBundle, InMemoryRevocationList, WorkloadIdentity } from '../../src/mesh/index.js';
import { privateKeySigner, signModel } from '../../src/runtime/model-signing/index.js';
import { startFakeUpstream, FAKE_ANSWER, type FakeUpstream } from '../helpers/fake-upstream.js';
import { LogCapture } from '../helpers/gateway.js';
import { chatBody, recordingAuthenticator } from '../helpers/mesh-upstream.js';
import {
  eventually,
  meshHome,
  startMeshGateway,
  TD,
  type MeshGateway,
  type MeshHome,
} from '../helpers/mesh.js';

const AGENT_ID = `spiffe://${TD}/agent/a1`;

/** Routing on verified runtimes: only an agent whose fresh evidence verified gets traffic. */
describe('runtime trust: routing only to attested runtimes (fail closed)', () => {
  let h: MeshHome;
  let work: string;
  let modelDir: string;
  let upstream: FakeUpstream;
  let identity: WorkloadIdentity;
  let agent: RunningAgent;
  let g: MeshGateway;
  let weights: string;

  before(async () => {
    h = await meshHome();
    work = await mkdtemp(join(tmpdir(), 'ztgate-runtime-routing-'));
    modelDir = join(work, 'model');
    const codeRoot = join(work, 'code');
    await mkdir(modelDir, { recursive: true });
    await mkdir(codeRoot);
    await writeFile(join(modelDir, 'config.json'), '{"architectures":["FakeForCausalLM"]}\n');
    await writeFile(join(modelDir, 'model.safetensors'), randomBytes(32 * 1024));
    await writeFile(join(codeRoot, 'main.js'), 'console.log("agent");\n');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await signModel(modelDir, { signer: privateKeySigner(privateKey) });

    upstream = await startFakeUpstream();
    const svid = await h.svid('agent', 'a1');
    identity = await WorkloadIdentity.start(() => Promise.resolve(svid));
    const agentMesh: AgentMesh = {
      spiffeId: svid.spiffeId,
      identity,
      bundle: builtInBundle(TD, h.ca.bundlePem),
      revocations: new InMemoryRevocationList([]),
      close: () => identity.close(),
    };
    agent = await startAgent({
      modelDir,
      signature: join(modelDir, 'model.sig'),
      trust: { publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
      upstream: upstream.url,
      listen: { host: '127.0.0.1', port: 0 },
      mesh: agentMesh,
      remeasureMs: 200,
      stateDir: join(work, 'state'),
      codeRoot,
      rateLimit: { burst: 50, perSecond: 50 },
      logger: createLogger('warn', new LogCapture()),
    });
    const state = agent.state();
    assert.equal(state?.status, 'healthy');
    weights = state.measurements.weights;
    const pinned = join(work, 'agent-dev.pem');
    await writeFile(pinned, agent.producer.publicKeyPem ?? '');

    const attested = (measurement: string) =>
      `{ kind: openai-compatible, baseUrl: "${agent.url}/v1", retries: 0, mtls: { spiffeIds: ["${AGENT_ID}"] }, attestation: { kind: dev, measurements: ["${measurement}"], dev: { publicKey: "file:${pinned}" } } }`;
    g = await startMeshGateway(
      h.home,
      `
server: { port: 0, adminPort: 0 }
logging: { level: debug }
mesh: { enabled: true }
upstreams:
  good: ${attested(weights)}
  wrong: ${attested('ab'.repeat(32))}
models:
  - { id: m-good, upstream: good, upstreamModel: fake-model }
  - { id: m-wrong, upstream: wrong, upstreamModel: fake-model }
  - { id: m-failover, upstream: wrong, fallbacks: [good], upstreamModel: fake-model }
  - id: m-claims
    upstream: good
    upstreamModel: fake-model
    # The config claims a hardware-attested runtime that may take restricted data; only evidence counts.
    attributes: { attested: true, attestationKind: sev-snp, runtimeKind: on_prem, dataClasses: [public, internal, confidential, restricted] }
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

  const chat = (model: string) =>
    fetch(`${g.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chatBody(model),
    });
  const errorCode = async (res: Response): Promise<string> =>
    ((await res.json()) as { error: { code: string } }).error.code;
  const entries = async (): Promise<AuditEntry[]> =>
    (await g.gw.store.audit.list({ limit: 1000 })).map((r) => r.entry);
  const modelCalls = (): number => upstream.calls.get('/v1/chat/completions') ?? 0;

  it('serves a model whose runtime attested; its ledger entry names the runtime and the attestation', async () => {
    const status = g.gw.runtimeTrust?.trust.status('good');
    assert.ok(status?.eligible, 'the runtime attested at start');
    const res = await chat('m-good');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0]?.message.content, FAKE_ANSWER);
    let served: AuditEntry | undefined;
    await eventually(async () => {
      served = (await entries()).find((e) => e.modelId === 'm-good' && e.status === 200);
      return served !== undefined;
    });
    assert.equal(served?.runtimeId, 'good');
    assert.equal(served?.attestationId, status.verdict.attestationId);
    assert.match(served?.attestationId ?? '', /^[0-9a-f]{64}$/);
  });

  it('/v1/models shows what each runtime proved, and labels dev evidence insecure', async () => {
    const res = await fetch(`${g.gw.dataUrl}/v1/models`);
    assert.equal(res.status, 200);
    const list = (await res.json()) as { data: { id: string; ztgate_runtime?: Record<string, unknown> }[] };
    const good = list.data.find((m) => m.id === 'm-good')?.ztgate_runtime;
    assert.equal(good?.attested, false, 'dev evidence is never attested');
    assert.equal(good?.attestation, 'dev');
    assert.equal(good?.insecure, true);
    const wrong = list.data.find((m) => m.id === 'm-wrong')?.ztgate_runtime;
    assert.deepEqual(wrong, { attested: false, attestation: 'none' }, 'a refused runtime proved nothing');
  });

  it('policy sees what was proved: dev evidence is not attested, whatever the config claims', async () => {
    const before = modelCalls();
    const internal = await chat('m-claims');
    assert.equal(internal.status, 200, 'internal data may go to the runtime');
    const restricted = await fetch(`${g.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'm-claims',
        messages: [{ role: 'user', content: 'summarise this', data_class: 'restricted' }],
      }),
    });
    assert.equal(restricted.status, 403);
    assert.equal(await errorCode(restricted), 'policy_denied');
    assert.equal(modelCalls(), before + 1, 'the restricted request was not sent');
    let denied: AuditEntry | undefined;
    await eventually(async () => {
      // A denial comes before routing: the entry names the model in its decision input.
      denied = (await entries()).find((e) => e.decision === 'deny' && e.decisionInput?.model !== undefined);
      return denied !== undefined;
    });
    assert.equal(denied?.decisionInput?.model?.attested, false);
    assert.equal(denied?.decisionInput?.model?.attestationKind, 'dev');
  });

  it('fails over to the next eligible runtime of a model', async () => {
    const res = await chat('m-failover');
    assert.equal(res.status, 200, 'served by the fallback whose runtime attested');
    let served: AuditEntry | undefined;
    await eventually(async () => {
      served = (await entries()).find((e) => e.modelId === 'm-failover' && e.status === 200);
      return served !== undefined;
    });
    assert.equal(served?.runtimeId, 'good');
    assert.equal(served?.upstreamId, 'good');
  });

  it('records the accepted attestation as a ledger control entry', async () => {
    const verdict = g.gw.runtimeTrust?.trust.status('good');
    assert.ok(verdict?.eligible);
    const control = (await entries()).filter((e) => e.phase === 'control');
    const attested = control.find(
      (e) =>
        e.action === 'runtime.attested' &&
        e.target === 'runtime:good' &&
        e.transformations.includes(`attestation:${verdict.verdict.attestationId}`),
    );
    assert.ok(attested, JSON.stringify(control));
    assert.ok(attested.transformations.includes(`measurement:${weights}`));
    assert.ok(attested.transformations.includes('hardware:false'));
    assert.ok(attested.transformations.includes('insecure:no-hardware-root'));
    // The reference values it was matched against were recorded first, by digest.
    const reference = control.find((e) => e.action === 'runtime.reference' && e.target === 'runtime:good');
    assert.ok(reference, 'the reference values are a ledger entry');
    assert.ok(reference.transformations.some((d) => /^reference:sha256:[0-9a-f]{64}$/.test(d)));
    assert.ok(control.indexOf(reference) < control.indexOf(attested));
    const wrong = control.find((e) => e.action === 'runtime.reference' && e.target === 'runtime:wrong');
    assert.notDeepEqual(wrong?.transformations, reference.transformations, 'other values, other digest');
  });

  it('refuses a runtime whose measurement is not approved: 503 runtime_unavailable, nothing sent', async () => {
    const before = modelCalls();
    const res = await chat('m-wrong');
    assert.equal(res.status, 503);
    assert.equal(await errorCode(res), 'runtime_unavailable');
    assert.equal(modelCalls(), before, 'the model server got nothing');
    const refused = (await entries()).find(
      (e) => e.action === 'runtime.refused' && e.target === 'runtime:wrong',
    );
    assert.equal(refused?.errorCode, 'measurement_mismatch');
  });

  it('a changed weight file quarantines the runtime: 503 after re-attestation; restored, it is served again', async () => {
    const file = join(modelDir, 'model.safetensors');
    const original = await readFile(file);
    const flipped = Buffer.from(original);
    flipped[100] = (flipped[100] ?? 0) ^ 0xff;
    await writeFile(file, flipped);
    try {
      await eventually(() => agent.state()?.status === 'quarantined');
      await g.gw.runtimeTrust?.attestAll();
      assert.equal(g.gw.runtimeTrust?.trust.status('good').eligible, false);
      const before = modelCalls();
      const res = await chat('m-good');
      assert.equal(res.status, 503);
      assert.equal(await errorCode(res), 'runtime_unavailable');
      assert.equal(modelCalls(), before, 'the model server got nothing');
      const refused = (await entries()).filter(
        (e) => e.action === 'runtime.refused' && e.target === 'runtime:good',
      );
      assert.equal(refused.at(-1)?.errorCode, 'challenge_failed');
    } finally {
      await writeFile(file, original);
    }
    await eventually(() => agent.state()?.status === 'healthy');
    await g.gw.runtimeTrust?.attestAll();
    const res = await chat('m-good');
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });

  it('config: attestation needs mtls on the same upstream, and a pinned key with kind dev', () => {
    const config = (extra: string, attestation: string) => `
mesh: { enabled: true }
upstreams:
  u: { kind: openai-compatible, baseUrl: "https://127.0.0.1:1/v1"${extra}, attestation: ${attestation} }
`;
    const dev = `{ kind: dev, measurements: ["${'ab'.repeat(32)}"], dev: { publicKey: "file:k.pem" } }`;
    assert.throws(() => parseConfig(config('', dev), {}), /upstreams\.u\.attestation.*needs mtls/s);
    const mtls = `, mtls: { spiffeIds: ["${AGENT_ID}"] }`;
    assert.throws(
      () => parseConfig(config(mtls, `{ kind: dev, measurements: ["${'ab'.repeat(32)}"] }`), {}),
      /dev\.publicKey/,
    );
    const parsed = parseConfig(config(mtls, dev), {});
    assert.equal(parsed.upstreams.u?.attestation?.freshness, 600_000);
    assert.equal(parsed.upstreams.u?.attestation?.allowDebug, false);
    const withModel = (model: string) => `${config(mtls, dev)}models:\n  - ${model}\n`;
    assert.throws(
      () => parseConfig(withModel('{ id: m, upstream: u, fallbacks: [nope], upstreamModel: x }'), {}),
      /models\[0\]\.fallbacks\[0\]: no upstream named "nope"/,
    );
    assert.throws(
      () => parseConfig(withModel('{ id: m, upstream: u, fallbacks: [u], upstreamModel: x }'), {}),
      /models\[0\]\.fallbacks\[0\]: "u" is listed twice/,
    );
  });
});
