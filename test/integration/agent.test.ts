import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, DEV_KEY_FILE, type AgentMesh, type RunningAgent } from '../../src/agent/index.js';
import { UsageError } from '../../src/cli/args.js';
import { agentCommand } from '../../src/cli/agent.js';
import { createLogger } from '../../src/cli/logger.js';
import {
  builtInBundle,
  InMemoryRevocationList,
  WorkloadIdentity,
  type SvidMaterial,
} from '../../src/mesh/index.js';
import { DevVerifier } from '../../src/runtime/attestation/dev.js';
import { isAttestationError } from '../../src/runtime/attestation/types.js';
import { parseBundle, privateKeySigner, signModel } from '../../src/runtime/model-signing/index.js';
import { startFakeUpstream, FAKE_ANSWER, type FakeUpstream } from '../helpers/fake-upstream.js';
import { LogCapture } from '../helpers/gateway.js';
import { eventually, meshHome, refused, TD, tlsGet, type MeshHome, type TlsAnswer } from '../helpers/mesh.js';

const REMEASURE_MS = 200;

describe('ztgate agent: measure, attest, forward over mTLS', () => {
  let mesh: MeshHome;
  let work: string;
  let modelDir: string;
  let codeRoot: string;
  let upstream: FakeUpstream;
  let agent: RunningAgent;
  let agentSvid: SvidMaterial;
  let gateway: { ca: string; cert: string; key: string };
  let stranger: { ca: string; cert: string; key: string };
  let publicKeyPem: string;
  let identity: WorkloadIdentity;
  let agentMesh: AgentMesh;
  const logs = new LogCapture();

  const post = (path: string, body: unknown, client = gateway): Promise<TlsAnswer> =>
    tlsGet(`${agent.url}${path}`, client, JSON.stringify(body));
  const nonce = (bytes = 32): string => randomBytes(bytes).toString('base64url');
  const json = (answer: TlsAnswer): Record<string, unknown> =>
    JSON.parse(answer.body) as Record<string, unknown>;
  const errorCode = (answer: TlsAnswer): string | undefined =>
    (json(answer).error as { code?: string } | undefined)?.code;

  before(async () => {
    mesh = await meshHome();
    work = await mkdtemp(join(tmpdir(), 'ztgate-agent-'));
    modelDir = join(work, 'model');
    codeRoot = join(work, 'code');
    await rm(modelDir, { recursive: true, force: true });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(modelDir, 'sub'), { recursive: true });
    await mkdir(codeRoot);
    await writeFile(join(modelDir, 'config.json'), '{"architectures":["FakeForCausalLM"]}\n');
    await writeFile(join(modelDir, 'model.safetensors'), randomBytes(64 * 1024));
    await writeFile(join(modelDir, 'sub', 'tokenizer.json'), '{"version":"1.0"}\n');
    // The code measured is a stand-in directory: src/ may be edited while the tests run.
    await writeFile(join(codeRoot, 'main.js'), 'console.log("agent");\n');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await signModel(modelDir, { signer: privateKeySigner(privateKey) });

    agentSvid = await mesh.svid('agent', 'a1');
    const gw = await mesh.svid('gateway', 'ztgate');
    const ops = await mesh.svid('ops', 'curious');
    gateway = { ca: mesh.ca.bundlePem, cert: gw.chainPem, key: gw.keyPem };
    stranger = { ca: mesh.ca.bundlePem, cert: ops.chainPem, key: ops.keyPem };
    upstream = await startFakeUpstream();
    identity = await WorkloadIdentity.start(() => Promise.resolve(agentSvid));
    agentMesh = {
      spiffeId: agentSvid.spiffeId,
      identity,
      bundle: builtInBundle(TD, mesh.ca.bundlePem),
      revocations: new InMemoryRevocationList([]),
      close: () => identity.close(),
    };
    agent = await startAgent({
      modelDir,
      signature: join(modelDir, 'model.sig'),
      trust: { publicKey: publicKeyPem },
      upstream: upstream.url,
      listen: { host: '127.0.0.1', port: 0 },
      mesh: agentMesh,
      remeasureMs: REMEASURE_MS,
      stateDir: join(work, 'state'),
      codeRoot,
      rateLimit: { burst: 8, perSecond: 20 },
      logger: createLogger('debug', logs),
    });
  });

  after(async () => {
    await agent?.close();
    identity?.close();
    await upstream?.close();
    await mesh?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('starts healthy with weights = SHA-256 of the verified DSSE payload; the dev key is 0600', async () => {
    const state = agent.state();
    assert.equal(state?.status, 'healthy');
    const payload = parseBundle(await readFile(join(modelDir, 'model.sig'))).payload;
    assert.equal(state.measurements.weights, createHash('sha256').update(payload).digest('hex'));
    assert.match(state.measurements.agent, /^[0-9a-f]{64}$/);
    assert.match(state.measurements.config, /^[0-9a-f]{64}$/);
    assert.equal((await stat(join(work, 'state', DEV_KEY_FILE))).mode & 0o777, 0o600);
    const health = await tlsGet(`${agent.url}/healthz`, gateway);
    assert.equal(health.status, 200);
    assert.equal(json(health).status, 'healthy');
    assert.equal(json(health).insecure, true);
    assert.equal(health.serverId, 'spiffe://example.org/agent/a1');
    assert.ok(logs.text().includes('INSECURE'));
  });

  it('answers a challenge with dev evidence that binds the nonce and its TLS key, and verifies', async () => {
    const n = nonce();
    const answer = await post('/attest', { nonce: n });
    assert.equal(answer.status, 200, answer.body);
    const body = json(answer) as { kind: string; evidence: string; insecure: boolean };
    assert.equal(body.kind, 'dev');
    assert.equal(body.insecure, true);
    // What the gateway knows on its own: its nonce, the key of the certificate it was served.
    const served = new X509Certificate(agentSvid.chainPem).publicKey.export({ type: 'spki', format: 'der' });
    const tlsKeyDigest = createHash('sha256').update(served).digest();
    const health = json(await tlsGet(`${agent.url}/healthz`, gateway)) as {
      measurements: { weights: string; agent: string; config: string };
      evidenceKey: { publicKey: string };
    };
    const reference = {
      measurements: [health.measurements.weights],
      dev: {
        publicKey: health.evidenceKey.publicKey,
        spiffeId: 'spiffe://example.org/agent/a1',
        agentDigests: [health.measurements.agent],
        configDigests: [health.measurements.config],
      },
    };
    const verifier = new DevVerifier();
    const verdict = await verifier.verify(
      body.evidence,
      { nonce: Buffer.from(n, 'base64url'), tlsKeyDigest, now: Date.now() },
      reference,
    );
    assert.equal(verdict.kind, 'dev');
    assert.equal(verdict.hardware, false);
    assert.equal(verdict.measurement, health.measurements.weights);
    // Another nonce, or another TLS key: refused by the verifier.
    await assert.rejects(
      verifier.verify(body.evidence, { nonce: randomBytes(32), tlsKeyDigest, now: Date.now() }, reference),
      (err) => isAttestationError(err, 'nonce_mismatch'),
    );
    await assert.rejects(
      verifier.verify(
        body.evidence,
        { nonce: Buffer.from(n, 'base64url'), tlsKeyDigest: randomBytes(32), now: Date.now() },
        reference,
      ),
      (err) => isAttestationError(err, 'key_binding_mismatch'),
    );
  });

  it('refuses a nonce shorter than 16 bytes or not base64url; answers a repeated nonce (replay is the verifier’s job)', async () => {
    const short = await post('/attest', { nonce: nonce(15) });
    assert.equal(short.status, 400);
    assert.equal(errorCode(short), 'nonce_invalid');
    assert.equal((await post('/attest', { nonce: 'not base64url!!!!!!!!!!!!!!' })).status, 400);
    assert.equal((await post('/attest', {})).status, 400);
    assert.equal(errorCode(await post('/attest', [1])), 'invalid_json');
    const n = nonce(16);
    assert.equal((await post('/attest', { nonce: n })).status, 200);
    assert.equal((await post('/attest', { nonce: n })).status, 200);
  });

  it('forwards chat, streamed chat, embeddings and models to the model server', async () => {
    const chat = await post('/v1/chat/completions', {
      model: 'fake-model',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(chat.status, 200, chat.body);
    assert.ok(chat.body.includes(FAKE_ANSWER));
    const stream = await post('/v1/chat/completions', {
      model: 'fake-model',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(stream.status, 200);
    const events = stream.body.split('\n\n').filter((e) => e.startsWith('data: '));
    assert.ok(events.length > 5, stream.body);
    assert.equal(events.at(-1), 'data: [DONE]');
    const embeddings = await post('/v1/embeddings', { model: 'fake-model', input: 'x' });
    assert.equal(embeddings.status, 200);
    const models = await tlsGet(`${agent.url}/v1/models`, gateway);
    assert.equal(models.status, 200);
    assert.ok(models.body.includes('fake-model'));
    assert.equal(upstream.calls.get('/v1/chat/completions'), 2);
  });

  it('streams without buffering: the first event reaches the client before the model server ends', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const slow = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"first":true}\n\n');
      void released.then(() => res.end('data: [DONE]\n\n'));
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const second = await startAgent({
      modelDir,
      signature: join(modelDir, 'model.sig'),
      trust: { publicKey: publicKeyPem },
      upstream: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/v1`,
      listen: { host: '127.0.0.1', port: 0 },
      mesh: agentMesh,
      watch: false,
      stateDir: join(work, 'state'),
      codeRoot,
      logger: createLogger('silent'),
    });
    try {
      const received: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const req = httpsRequest(
          `${second.url}/v1/chat/completions`,
          {
            method: 'POST',
            ca: gateway.ca,
            cert: gateway.cert,
            key: gateway.key,
            agent: false,
            checkServerIdentity: () => undefined,
            headers: { 'content-type': 'application/json' },
          },
          (res) => {
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              received.push(chunk);
              if (received.length === 1) release(); // the model server finishes only now
            });
            res.on('end', resolve);
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end('{"stream":true}');
      });
      assert.equal(received[0], 'data: {"first":true}\n\n');
      assert.ok(received.join('').endsWith('data: [DONE]\n\n'));
    } finally {
      await second.close();
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  });

  it('refuses a client whose SPIFFE ID is not on the allow-list, and one without a certificate', async () => {
    await refused(tlsGet(`${agent.url}/healthz`, stranger));
    await refused(post('/v1/chat/completions', { model: 'fake-model', messages: [] }, stranger));
    await refused(tlsGet(`${agent.url}/healthz`, { ca: mesh.ca.bundlePem }));
    assert.ok(logs.text().includes('peer_not_allowed'));
  });

  it('rate-limits challenges per peer', async () => {
    // Burst 8, then 20 per second: however slow this machine is, no more than that is accepted.
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 60 }, () => post('/attest', { nonce: nonce() })));
    const elapsedS = (performance.now() - started) / 1000;
    const accepted = answers.filter((a) => a.status === 200).length;
    const limited = answers.filter((a) => a.status === 429);
    assert.equal(accepted + limited.length, answers.length, 'every answer is an attestation or a refusal');
    assert.ok(
      accepted <= 8 + Math.ceil(20 * elapsedS) + 1,
      `${accepted} accepted in ${elapsedS.toFixed(2)} s`,
    );
    if (elapsedS < (60 - 8) / 20) assert.ok(limited.length > 0, 'some challenges are refused');
    if (limited.length > 0) assert.equal(errorCode(limited[0] as TlsAnswer), 'rate_limited');
    await new Promise((r) => setTimeout(r, 500));
  });

  it('a changed weight byte quarantines within one re-measure interval; restoring makes it healthy again', async () => {
    const file = join(modelDir, 'model.safetensors');
    const original = await readFile(file);
    const tampered = Buffer.from(original);
    tampered[100] = (tampered[100] ?? 0) ^ 0x01;
    const changedAt = Date.now();
    await writeFile(file, tampered);
    await eventually(() => agent.state()?.status === 'quarantined', 5000);
    // fs.watch (debounced) or the 200 ms schedule: within one interval plus the measurement itself.
    assert.ok(Date.now() - changedAt < REMEASURE_MS + 1000, `took ${Date.now() - changedAt} ms`);
    const state = agent.state();
    assert.equal(state?.status, 'quarantined');
    assert.equal(state.reason.code, 'digest_mismatch');
    assert.deepEqual(state.reason.files, ['model.safetensors']);

    const chat = await post('/v1/chat/completions', {
      model: 'fake-model',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(chat.status, 503);
    assert.equal(errorCode(chat), 'runtime_quarantined');
    const attest = await post('/attest', { nonce: nonce() });
    assert.equal(attest.status, 503);
    assert.equal(errorCode(attest), 'runtime_quarantined');
    assert.ok(!('evidence' in json(attest)));
    const health = await tlsGet(`${agent.url}/healthz`, gateway);
    assert.equal(health.status, 503);
    assert.equal((json(health).reason as { code: string }).code, 'digest_mismatch');
    assert.equal(upstream.calls.get('/v1/chat/completions'), 2, 'nothing reached the model server');

    await writeFile(file, original);
    await eventually(() => agent.state()?.status === 'healthy', 5000);
    assert.equal((await post('/attest', { nonce: nonce() })).status, 200);
    const again = await post('/v1/chat/completions', {
      model: 'fake-model',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(again.status, 200);
  });

  it('an added file or a changed code file quarantines too', async () => {
    await writeFile(join(modelDir, 'extra.bin'), 'x');
    await eventually(() => agent.state()?.status === 'quarantined', 5000);
    const added = agent.state();
    assert.equal(added?.status === 'quarantined' && added.reason.code, 'file_unexpected');
    await rm(join(modelDir, 'extra.bin'));
    await eventually(() => agent.state()?.status === 'healthy', 5000);

    await writeFile(join(codeRoot, 'main.js'), 'console.log("patched");\n');
    await eventually(() => agent.state()?.status === 'quarantined', 5000);
    const changed = agent.state();
    assert.equal(changed?.status === 'quarantined' && changed.reason.code, 'code_changed');
    await writeFile(join(codeRoot, 'main.js'), 'console.log("agent");\n');
    await eventually(() => agent.state()?.status === 'healthy', 5000);
  });
});

describe('ztgate agent command line', () => {
  it('refuses missing or conflicting options with a usage error', async () => {
    await assert.rejects(agentCommand([]), UsageError);
    await assert.rejects(
      agentCommand(['--model-dir', 'm', '--signature', 's', '--upstream', 'http://127.0.0.1:1/v1']),
      /exactly one of --public-key/,
    );
    await assert.rejects(
      agentCommand(['--model-dir', 'm', '--signature', 's', '--public-key', 'k', '--upstream', 'ftp://x']),
      /--upstream must be/,
    );
    await assert.rejects(
      agentCommand([
        '--model-dir',
        'm',
        '--signature',
        's',
        '--public-key',
        'k',
        '--upstream',
        'http://x/v1',
        '--listen',
        'nope',
      ]),
      /--listen must be/,
    );
  });
});
