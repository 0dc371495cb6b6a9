import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * The same code scaled out: two replicas on one PostgreSQL store and one Redis bus. PostgreSQL
 * and Redis must be running (they are in CI): this test fails, never skips, without them.
 */
const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

describe('two replicas on PostgreSQL and Redis', () => {
  const schema = `ztgate_scale_${randomBytes(4).toString('hex')}`;
  const prefix = `ztgate-scale-${randomBytes(4).toString('hex')}:`;
  const shared = `
store: { url: "${PG_URL}", schema: ${schema} }
bus: { url: "redis://127.0.0.1:6379", keyPrefix: "${prefix}" }
`;
  let a: TestGateway;
  let b: TestGateway;

  before(async () => {
    a = await startTestGateway({ yaml: shared });
    b = await startTestGateway({
      demo: false,
      yaml: `${shared}
identity:
  issuers:
    - { issuer: "${a.gw.demoIssuer}", audience: ztgate, algorithms: [ES256] }
upstreams:
  model: { kind: openai-compatible, baseUrl: "${a.gw.demoModelUrl}" }
models:
  - { id: demo, upstream: model, upstreamModel: demo-echo }
`,
    });
  });
  after(async () => {
    await b?.close();
    await a?.close();
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  });

  it('both replicas report their PostgreSQL store and Redis bus ready', async () => {
    for (const t of [a, b]) {
      const res = await fetch(`${t.gw.adminUrl}/readyz`);
      const body = (await res.json()) as { checks: Record<string, string> };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.checks['store:postgres'], 'ok');
      assert.equal(body.checks['bus:redis'], 'ok');
    }
  });

  it('a token from one replica is accepted by the other, and both write to one audit log', async () => {
    const token = await a.token('dora');
    for (const t of [a, b]) {
      const client = new OpenAI({ baseURL: `${t.gw.dataUrl}/v1`, apiKey: token, maxRetries: 0 });
      const answer = await client.chat.completions.create({
        model: 'demo',
        messages: [{ role: 'user', content: `hello from ${t === a ? 'A' : 'B'}` }],
      });
      assert.match(answer.choices[0]?.message.content ?? '', /hello from/);
    }
    const fromA = await a.gw.store.audit.list({ limit: 1000 });
    const fromB = await b.gw.store.audit.list({ limit: 1000 });
    assert.deepEqual(
      fromA.map((r) => r.seq),
      fromB.map((r) => r.seq),
    );
    assert.equal(fromA.filter((r) => r.entry.phase === 'release').length, 2);
  });

  it('state on the bus set by one replica is seen by the other', async () => {
    let resolveSeen: (message: string) => void = () => {};
    const seen = new Promise<string>((resolve) => (resolveSeen = resolve));
    const unsubscribe = await b.gw.bus.subscribe('revocations', (m) => resolveSeen(m));
    await a.gw.bus.set('quarantine:ws-1', 'yes', 5000);
    await a.gw.bus.publish('revocations', 'session-42');
    assert.equal(await seen, 'session-42');
    assert.equal(await b.gw.bus.get('quarantine:ws-1'), 'yes');
    await unsubscribe();
  });

  it('a quarantine made on one replica refuses requests on the other within 1 s; a four-eyes release frees it', async () => {
    const token = await a.token('quinn');
    const principalId = `${a.gw.demoIssuer}#quinn`;
    const ask = (t: TestGateway) =>
      fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'status?' }] }),
      });
    assert.equal((await ask(b)).status, 200);
    const started = performance.now();
    await a.gw.watch.quarantines.quarantine({
      target: { kind: 'principal', id: principalId },
      reason: 'test: playbook stand-in',
      actor: 'test',
    });
    let elapsed = -1;
    while (performance.now() - started < 1000) {
      if (b.gw.watch.quarantines.get({ kind: 'principal', id: principalId })) {
        elapsed = performance.now() - started;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(elapsed >= 0, 'replica B holds the quarantine within 1 s');
    const refused = await ask(b);
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'quarantined');
    await b.gw.watch.quarantines.release({
      target: { kind: 'principal', id: principalId },
      actors: ['x', 'y'],
    });
    const until = performance.now() + 1000;
    while (a.gw.watch.quarantines.get({ kind: 'principal', id: principalId }) && performance.now() < until)
      await new Promise((r) => setTimeout(r, 5));
    assert.equal((await ask(a)).status, 200, 'released on A too');
  });

  it('an unreachable Redis or PostgreSQL stops the start (fail closed)', async () => {
    await assert.rejects(startTestGateway({ yaml: 'bus: { url: "redis://127.0.0.1:1" }' }));
    await assert.rejects(
      startTestGateway({ yaml: 'store: { url: "postgres://postgres@127.0.0.1:1/test" }' }),
    );
  });
});
