// The policy admin API over mutual TLS on the admin listener: status, reload (422 with only the
// refusal code when a candidate is refused), and every admin action decided by the live bundle,
// so a bundle can narrow who may reload policy or manage identity (403, logged and audited).
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AuditEntry } from '../../src/core/index.js';
import type { SvidMaterial } from '../../src/mesh/index.js';
import { loadBundle } from '../../src/policy/index.js';
import {
  eventually,
  meshHome,
  refused,
  startMeshGateway,
  TD,
  tlsGet,
  type MeshGateway,
  type MeshHome,
  type TlsClient,
} from '../helpers/mesh.js';

const DEFAULT_BUNDLE = fileURLToPath(new URL('../../examples/policies/default', import.meta.url));
const ALICE = `spiffe://${TD}/ops/alice`;
const BOB = `spiffe://${TD}/ops/bob`;

/** Only alice may reload policy; every admin may read; nobody may manage identity. */
const NARROW_POLICIES = `
@id("alice-manages-policy")
permit (
  principal == Ztgate::ServiceAccount::"${ALICE}",
  action == Ztgate::Action::"manage_policy",
  resource is Ztgate::Gateway
);

@id("admins-view")
permit (principal, action == Ztgate::Action::"view_audit", resource is Ztgate::Gateway)
when { principal.roles.contains("ztgate-admin") };
`;

const NARROW_TESTS = JSON.stringify([
  {
    name: 'alice reloads policy',
    principal: { kind: 'service', id: ALICE, roles: ['ztgate-admin'] },
    action: 'manage_policy',
    resource: { type: 'Gateway', id: 'gateway' },
    expect: { effect: 'allow', determiningPolicies: ['alice-manages-policy'] },
  },
  {
    name: 'bob may not',
    principal: { kind: 'service', id: BOB, roles: ['ztgate-admin'] },
    action: 'manage_policy',
    resource: { type: 'Gateway', id: 'gateway' },
    expect: { effect: 'deny' },
  },
]);

interface AdminErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
  result?: { live: Record<string, unknown> };
}

describe('policy admin API over mutual TLS', () => {
  let h: MeshHome;
  let g: MeshGateway;
  let bundleRoot: string;
  let dir: string;
  let ca: string;
  let alice: TlsClient;
  let bob: TlsClient;
  let bobSvid: SvidMaterial;
  before(async () => {
    bundleRoot = await mkdtemp(join(tmpdir(), 'ztgate-policy-admin-'));
    dir = join(bundleRoot, 'bundle');
    await cp(DEFAULT_BUNDLE, dir, { recursive: true });
    h = await meshHome();
    ca = h.ca.bundlePem;
    g = await startMeshGateway(
      h.home,
      `
server: { port: 0, adminPort: 0, adminTls: true, adminAllowedSpiffeIds: ["spiffe://${TD}/ops/*"] }
logging: { level: debug }
mesh: { enabled: true }
policy: { bundle: "${dir}", watch: false }
`,
    );
    const a = await h.svid('ops', 'alice');
    bobSvid = await h.svid('ops', 'bob');
    alice = { ca, cert: a.chainPem, key: a.keyPem };
    bob = { ca, cert: bobSvid.chainPem, key: bobSvid.keyPem };
  });
  after(async () => {
    await g?.close();
    await h?.close();
    await rm(bundleRoot, { recursive: true, force: true });
  });

  const url = (path: string) => `${g.gw.adminUrl}${path}`;
  const controlRows = async (): Promise<AuditEntry[]> =>
    (await g.gw.store.audit.list({ limit: 500 })).map((r) => r.entry).filter((e) => e.phase === 'control');

  it('GET /admin/policy: the running bundle, its source, tests and last reload', async () => {
    const res = await tlsGet(url('/admin/policy'), alice);
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as {
      live: {
        digest: string;
        builtin: boolean;
        source: string;
        tests: { passed: number; failed: number };
        lastReload: unknown;
      };
      shadow: unknown;
    };
    const status = g.gw.policy.status();
    assert.equal(body.live.digest, status.live.digest);
    assert.equal(body.live.digest, (await loadBundle(dir)).digest);
    assert.equal(body.live.builtin, false);
    assert.equal(body.live.source, dir);
    assert.deepEqual(body.live.tests, { passed: (await loadBundle(dir)).tests.length, failed: 0 });
    assert.ok(body.live.tests.passed > 0);
    assert.equal(body.live.lastReload, null, 'not reloaded since the start');
    assert.equal(body.shadow, null);
  });

  it('POST /admin/policy/reload: unchanged, then 422 with only the refusal code for a broken bundle', async () => {
    const running = g.gw.policy.status().live.digest;
    const ok = await tlsGet(url('/admin/policy/reload'), alice, '{}');
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body), { result: { live: { outcome: 'unchanged', digest: running } } });

    await writeFile(join(dir, 'policies.cedar'), 'permit (principal, action, resource');
    const bad = await tlsGet(url('/admin/policy/reload'), alice, '{}');
    assert.equal(bad.status, 422, bad.body);
    const body = JSON.parse(bad.body) as AdminErrorBody;
    assert.equal(body.error.code, 'policy_bundle_refused');
    assert.equal(body.error.param, 'policy.parse_failed');
    assert.equal(body.error.message, 'The candidate bundle was refused; the running bundle keeps serving.');
    assert.deepEqual(body.result, {
      live: { outcome: 'rejected', code: 'policy.parse_failed', digest: running },
    });
    // The refusal's text (the parser's message) is in the log, never in the answer.
    const logged = g.logs.lines
      .map((l) => JSON.parse(l) as { msg?: string; reason?: string })
      .find((l) => l.msg?.startsWith('policy bundle candidate refused'));
    assert.ok(logged?.reason, 'the refusal reason is logged');
    assert.ok(!bad.body.includes(logged.reason));
    assert.equal(g.gw.policy.status().live.digest, running);
    const row = (await controlRows()).find(
      (e) => e.action === 'policy.reload' && e.errorCode === 'policy.parse_failed',
    );
    assert.equal(row?.principalId, ALICE);
    assert.equal(row?.authMethod, 'admin');
  });

  it('a bundle can narrow admin actions: only alice reloads; bob may read; nobody manages identity', async () => {
    await writeFile(join(dir, 'policies.cedar'), NARROW_POLICIES);
    await rm(join(dir, 'tests'), { recursive: true, force: true });
    await mkdir(join(dir, 'tests'));
    await writeFile(join(dir, 'tests', 'admin.json'), NARROW_TESTS);
    const narrow = (await loadBundle(dir)).digest;

    // The running (default) bundle lets every admin reload: alice loads the narrow one.
    const loaded = await tlsGet(url('/admin/policy/reload'), alice, '{}');
    assert.equal(loaded.status, 200, loaded.body);
    assert.equal(
      (JSON.parse(loaded.body) as { result: { live: { outcome: string } } }).result.live.outcome,
      'replaced',
    );
    assert.equal(g.gw.policy.status().live.digest, narrow);
    assert.equal(g.gw.policy.status().live.tests.passed, 2);

    const denied = await tlsGet(url('/admin/policy/reload'), bob, '{}');
    assert.equal(denied.status, 403, denied.body);
    assert.equal((JSON.parse(denied.body) as AdminErrorBody).error.code, 'admin_forbidden');
    const view = await tlsGet(url('/admin/policy'), bob);
    assert.equal(view.status, 200, view.body);
    assert.equal((JSON.parse(view.body) as { live: { digest: string } }).live.digest, narrow);
    const shadow = await tlsGet(url('/admin/policy/shadow?limit=5'), bob);
    assert.equal(shadow.status, 200, shadow.body);
    assert.deepEqual(JSON.parse(shadow.body), { differences: [] });
    for (const [query, param] of [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['other=1', 'other'],
    ]) {
      const res = await tlsGet(url(`/admin/policy/shadow?${query}`), bob);
      assert.equal(res.status, 400, `${query}: ${res.body}`);
      assert.deepEqual((JSON.parse(res.body) as AdminErrorBody).error.code, 'invalid_query');
      assert.equal((JSON.parse(res.body) as AdminErrorBody).error.param, param);
    }
    assert.equal((await tlsGet(url('/admin/policy/reload'), alice, '{}')).status, 200, 'alice still may');

    // The denial is logged and audited with the caller and the action.
    await eventually(async () => (await controlRows()).some((e) => e.action === 'admin.manage_policy'));
    const row = (await controlRows()).find((e) => e.action === 'admin.manage_policy');
    assert.equal(row?.principalId, BOB);
    assert.equal(row?.errorCode, 'admin_forbidden');
    assert.equal(row?.decision, 'deny');
    assert.equal(row?.status, 403);
    assert.equal(row?.bundleDigest, narrow);
    assert.equal(row?.target, 'admin:POST /admin/policy/reload');
    assert.match(g.logs.text(), /admin action denied by policy/);

    // Nobody holds manage_identity now: revocations are refused before the body is read.
    const revoke = JSON.stringify({ kind: 'certificate', value: bobSvid.serial, reason: 'test' });
    for (const who of [alice, bob]) {
      const res = await tlsGet(url('/admin/revocations'), who, revoke);
      assert.equal(res.status, 403, res.body);
      assert.equal((JSON.parse(res.body) as AdminErrorBody).error.code, 'admin_forbidden');
    }
    await eventually(async () =>
      (await controlRows()).some((e) => e.action === 'admin.manage_identity' && e.principalId === ALICE),
    );
    assert.ok(!(await controlRows()).some((e) => e.action.startsWith('revoke.')), 'nothing was revoked');
  });

  it('a client without a certificate is refused at the TLS layer', async () => {
    await refused(tlsGet(url('/admin/policy'), { ca }));
    await refused(tlsGet(url('/admin/policy/reload'), { ca }, '{}'));
    await eventually(() => g.refusals().includes('peer_certificate_missing'));
  });
});
