// `ztgate policy simulate` end to end: a real gateway decides with a bundle and records each
// decision's inputs; once it has stopped, the built command replays them against a candidate
// bundle and reports what would change, with the request ids of the examples.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { SimulationReport } from '../../src/policy/index.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/ztgate.js');

function ztgate(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const BASELINE = `@id("allow-chat")
permit (principal is Ztgate::User, action == Ztgate::Action::"chat", resource is Ztgate::Model);
@id("forbid-cloud")
forbid (principal, action, resource is Ztgate::Model) when { resource.runtimeKind == "cloud" };
`;

// Cloud models open up; users with the role `capped` get a token cap; the role `blocked` is refused.
const CANDIDATE = `@id("chat-any")
permit (principal is Ztgate::User, action == Ztgate::Action::"chat", resource is Ztgate::Model)
unless { principal.roles.contains("capped") };
@id("chat-capped")
@obligation("max_tokens:100")
permit (principal is Ztgate::User, action == Ztgate::Action::"chat", resource is Ztgate::Model)
when { principal.roles.contains("capped") };
@id("forbid-blocked")
forbid (principal, action, resource) when { principal.roles.contains("blocked") };
`;

const counts = (r: SimulationReport): number[] => [
  r.total,
  r.unchanged,
  r.allowedToDenied,
  r.deniedToAllowed,
  r.obligationsChanged,
  r.skipped,
];

describe('ztgate policy simulate', () => {
  let fake: FakeUpstream;
  let work: string;
  let t: TestGateway;
  let running = false;
  const ids: Record<'alice' | 'carol' | 'bob' | 'cloud', string> = {
    alice: '',
    carol: '',
    bob: '',
    cloud: '',
  };

  before(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/policy-simulate.js'))) {
      const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
      assert.ok(existsSync(join(ROOT, 'dist/cli/policy-simulate.js')), build.stdout + build.stderr);
    }
    fake = await startFakeUpstream();
    work = await mkdtemp(join(tmpdir(), 'ztgate-policy-simulate-'));
  });
  after(async () => {
    if (running) await t.gw.close();
    if (t) await rm(t.home, { recursive: true, force: true });
    await fake.close();
    await rm(work, { recursive: true, force: true });
  });

  const bundleDir = async (name: string, text: string): Promise<string> => {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'policies.cedar'), text);
    return dir;
  };

  it('records the decisions of a running gateway', async () => {
    const baseline = await bundleDir('baseline', BASELINE);
    t = await startTestGateway({
      yaml: `
policy: { bundle: "${baseline}" }
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${fake.url}", retries: 0 }
models:
  - { id: onprem, upstream: fake, upstreamModel: fake-model, attributes: { runtimeKind: on_prem, region: eu } }
  - { id: cloud, upstream: fake, upstreamModel: fake-model, attributes: { runtimeKind: cloud, provider: openai } }
`,
    });
    running = true;
    const ask = async (user: string, roles: string[], model: string, status: number): Promise<string> => {
      const res = await fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await t.token(user, roles)}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'my email is a@example.com' }] }),
      });
      assert.equal(res.status, status, await res.text());
      return res.headers.get('x-request-id') ?? '';
    };
    ids.alice = await ask('alice', [], 'onprem', 200);
    ids.carol = await ask('carol', ['capped'], 'onprem', 200);
    ids.bob = await ask('bob', ['blocked'], 'onprem', 200);
    ids.cloud = await ask('alice', [], 'cloud', 403);
    // A refusal's audit row is written after the refusal went out (best effort): wait for it.
    for (let i = 0; i < 100; i++) {
      const rows = await t.gw.store.audit.list({ limit: 100 });
      if (rows.some((r) => r.entry.requestId === ids.cloud)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The gateway's own control entries (creating its ledger key) are not decisions.
    const rows = (await t.gw.store.audit.list({ limit: 100 }))
      .map((r) => r.entry)
      .filter((e) => e.phase !== 'control');
    assert.equal(rows.length, 4);
    for (const e of rows) {
      assert.equal(e.decisionInput?.version, 1, e.requestId);
      assert.doesNotMatch(JSON.stringify(e), /a@example\.com/, 'inputs only, never prompt text');
    }
    const refused = rows.find((e) => e.requestId === ids.cloud);
    assert.equal(refused?.decision, 'deny');
    assert.equal(refused?.decisionInput?.model?.runtimeKind, 'cloud');
    running = false;
    await t.gw.close(); // the command reads the store of a stopped gateway
  });

  it('reports the exact changes a candidate bundle would make, naming the requests', async () => {
    const candidate = await bundleDir('candidate', CANDIDATE);
    const r = ztgate(['policy', 'simulate', '--bundle', candidate, '--home', t.home, '--json']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as SimulationReport;
    // total, unchanged, allowed → denied, denied → allowed, obligations changed, skipped
    assert.deepEqual(counts(report), [4, 1, 1, 1, 1, 0]);
    assert.deepEqual(
      report.examples.allowedToDenied.map((e) => [e.requestId, e.after.determiningPolicies]),
      [[ids.bob, ['forbid-blocked']]],
    );
    assert.deepEqual(
      report.examples.deniedToAllowed.map((e) => [e.requestId, e.resource, e.before.determiningPolicies]),
      [[ids.cloud, 'Model::cloud', ['forbid-cloud']]],
    );
    assert.deepEqual(
      report.examples.obligationsChanged.map((e) => [e.requestId, e.after.obligations]),
      [[ids.carol, ['max_tokens:100']]],
    );

    const human = ztgate(['policy', 'simulate', '--bundle', candidate, '--home', t.home]);
    assert.equal(human.status, 0, human.stdout + human.stderr);
    assert.match(human.stdout, /4 decision\(s\)/);
    assert.match(human.stdout, /allowed → denied +1\n/);
    assert.match(human.stdout, /denied → allowed +1\n/);
    assert.match(human.stdout, /obligations changed +1\n/);
    for (const id of [ids.bob, ids.cloud, ids.carol]) assert.ok(human.stdout.includes(id), id);
    assert.ok(!human.stdout.includes(ids.alice), 'unchanged decisions are counted, not listed');

    // The baseline itself changes nothing.
    const same = ztgate([
      'policy',
      'simulate',
      '--bundle',
      join(work, 'baseline'),
      '--home',
      t.home,
      '--json',
    ]);
    assert.equal(same.status, 0, same.stdout + same.stderr);
    assert.equal((JSON.parse(same.stdout) as SimulationReport).unchanged, 4);
  });

  it('--since leaves out older records', async () => {
    const db = new Database(join(t.home, 'ztgate.db'));
    try {
      db.prepare('update ledger_leaves set stored_at = ? where request_id in (?, ?)').run(
        '2020-01-01T00:00:00.000Z',
        ids.bob,
        ids.alice,
      );
    } finally {
      db.close();
    }
    const candidate = join(work, 'candidate');
    const r = ztgate([
      'policy',
      'simulate',
      '--bundle',
      candidate,
      '--home',
      t.home,
      '--since',
      '1h',
      '--json',
    ]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as SimulationReport & { since: string };
    assert.deepEqual(counts(report), [2, 0, 0, 1, 1, 0]);
    assert.ok(Date.now() - Date.parse(report.since) >= 3_600_000);
  });

  it('exits 2 on a bundle that does not load, and on bad options', async () => {
    const broken = await bundleDir('broken', '@id("oops")\npermit (principal, action, resource) when { };\n');
    const r = ztgate(['policy', 'simulate', '--bundle', broken, '--home', t.home]);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /policy\.parse_failed/);
    const candidate = join(work, 'candidate');
    assert.equal(ztgate(['policy', 'simulate', '--home', t.home]).status, 2, 'needs --bundle');
    assert.equal(ztgate(['policy', 'simulate', '--bundle', candidate, '--since', 'yesterday']).status, 2);
    assert.equal(ztgate(['policy', 'test', '--since', '1h']).status, 2);
  });
});
