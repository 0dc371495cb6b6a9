// Reloading the live policy bundle of a running gateway, with real bundle directories: on file
// change (watch), on SIGHUP (the `ztgate up` process), through an admin reload announced to the
// other replicas over a Redis bus. A candidate that does not parse, fails its own tests or no
// longer matches its signature is refused: the running bundle keeps deciding, and the refusal is
// logged, audited and counted.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureHome } from '../../src/config/index.js';
import type { AuditEntry } from '../../src/core/index.js';
import type { RunningGateway } from '../../src/gateway/assemble.js';
import { KeyManager } from '../../src/keys/index.js';
import { createLocalProvider } from '../../src/keys/providers/local.js';
import { loadBundle, signBundle } from '../../src/policy/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { eventually } from '../helpers/mesh.js';
import { dropPrefix, REDIS_URL } from '../helpers/redis-prefix.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/ztgate.js');
const DEFAULT_BUNDLE = join(ROOT, 'examples/policies/default');
const FORBID_DEMO = '\n@id("forbid-demo")\nforbid (principal, action, resource == Ztgate::Model::"demo");\n';

/** A test case the default bundle fails: it allows a chat on llama-onprem. */
const FAILING_TEST = JSON.stringify([
  {
    name: 'a chat on llama-onprem is denied (it is not)',
    principal: { id: 'idp#alice' },
    action: 'chat',
    resource: { type: 'Model', id: 'llama-onprem' },
    expect: { effect: 'deny' },
  },
]);

const chat = (t: TestGateway, token: string) =>
  fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] }),
  }).then(async (res) => {
    await res.body?.cancel();
    return res.status;
  });

const reloadRows = async (gw: RunningGateway): Promise<AuditEntry[]> =>
  (await gw.store.audit.list({ limit: 500 }))
    .map((r) => r.entry)
    .filter((e) => e.phase === 'control' && e.action === 'policy.reload');

const metricsOf = (gw: RunningGateway) => gw.metrics.registry.metrics();

/** The value of one sample in Prometheus text (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(name.length + 1, line.indexOf('}'));
    const have = inside.split(',');
    if (want.every((w) => have.includes(w))) return Number(line.slice(line.indexOf('}') + 1).trim());
  }
  return 0;
}

const append = async (dir: string, text: string) =>
  writeFile(join(dir, 'policies.cedar'), (await readFile(join(dir, 'policies.cedar'), 'utf8')) + text);

describe('policy bundle reload', () => {
  const temps: string[] = [];
  const tempDir = async (prefix: string) => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    temps.push(dir);
    return dir;
  };
  const bundleCopy = async () => {
    const dir = join(await tempDir('ztgate-reload-bundle-'), 'bundle');
    await cp(DEFAULT_BUNDLE, dir, { recursive: true });
    return dir;
  };
  after(async () => {
    for (const dir of temps) await rm(dir, { recursive: true, force: true });
  });

  it('watch: an edit changes decisions; a candidate that does not parse or fails its tests is refused', async () => {
    const dir = await bundleCopy();
    const t = await startTestGateway({ yaml: `policy: { bundle: "${dir}" }\n` });
    try {
      const first = t.gw.policy.status().live.digest;
      assert.equal(first, (await loadBundle(dir)).digest);
      assert.equal(t.gw.policy.status().live.builtin, false);
      const token = await t.token('erin');
      assert.equal(await chat(t, token), 200);

      // Forbid the demo model: the bundle's own tests (about other models) still pass.
      await append(dir, FORBID_DEMO);
      const second = (await loadBundle(dir)).digest;
      await eventually(async () => (await chat(t, token)) === 403, 8000);
      assert.equal(t.gw.policy.status().live.digest, second);
      assert.equal(t.gw.policy.status().live.lastReload?.outcome, 'replaced');
      assert.equal(t.gw.policy.status().live.lastReload?.trigger, 'watch');
      await eventually(async () =>
        (await reloadRows(t.gw)).some((e) => e.target === `policy:live:${second}`),
      );
      const replaced = (await reloadRows(t.gw)).find((e) => e.target === `policy:live:${second}`);
      assert.equal(replaced?.principalId, 'system:watch');
      assert.equal(replaced?.errorCode, null);
      assert.deepEqual(replaced?.transformations, [
        'bundle:live',
        'trigger:watch',
        'outcome:replaced',
        `previous:${first}`,
      ]);
      let metrics = await metricsOf(t.gw);
      assert.equal(sample(metrics, 'ztgate_policy_bundle_info', { bundle: 'live', digest: second }), 1);
      assert.equal(sample(metrics, 'ztgate_policy_bundle_info', { bundle: 'live', digest: first }), 0);
      assert.ok(
        sample(metrics, 'ztgate_policy_reloads_total', {
          bundle: 'live',
          trigger: 'watch',
          outcome: 'replaced',
        }) >= 1,
      );

      // A candidate that does not parse.
      const good = await readFile(join(dir, 'policies.cedar'), 'utf8');
      await writeFile(join(dir, 'policies.cedar'), 'permit (principal, action, resource');
      await eventually(
        async () => (await reloadRows(t.gw)).some((e) => e.errorCode === 'policy.parse_failed'),
        8000,
      );
      const parseFailed = (await reloadRows(t.gw)).find((e) => e.errorCode === 'policy.parse_failed');
      assert.equal(
        parseFailed?.target,
        `policy:live:${second}`,
        'the refusal names the bundle still running',
      );
      assert.equal(parseFailed?.status, 500);
      assert.ok(parseFailed?.transformations.includes('outcome:rejected'));
      assert.equal(t.gw.policy.status().live.lastReload?.outcome, 'rejected');
      assert.equal(t.gw.policy.status().live.lastReload?.code, 'policy.parse_failed');
      assert.equal(t.gw.policy.status().live.digest, second);
      assert.equal(await chat(t, token), 403, 'the running bundle keeps deciding');
      assert.match(t.logs.text(), /policy bundle candidate refused/);

      // A candidate that would allow the demo model again, but fails its own test cases.
      // (The test file first: a reload between the two writes sees no acceptable candidate.)
      await writeFile(join(dir, 'tests', 'failing.json'), FAILING_TEST);
      await writeFile(join(dir, 'policies.cedar'), good.replace(FORBID_DEMO, ''));
      await eventually(
        async () => (await reloadRows(t.gw)).some((e) => e.errorCode === 'policy.tests_failed'),
        8000,
      );
      assert.equal(t.gw.policy.status().live.lastReload?.outcome, 'rejected');
      assert.equal(t.gw.policy.status().live.lastReload?.code, 'policy.tests_failed');
      assert.equal(t.gw.policy.status().live.digest, second);
      assert.equal(await chat(t, token), 403, 'a refused candidate never decides');
      metrics = await metricsOf(t.gw);
      assert.ok(
        sample(metrics, 'ztgate_policy_reloads_total', {
          bundle: 'live',
          trigger: 'watch',
          outcome: 'rejected',
        }) >= 2,
      );
      assert.equal(sample(metrics, 'ztgate_policy_bundle_info', { bundle: 'live', digest: second }), 1);

      // Fixed: the next change is taken.
      await rm(join(dir, 'tests', 'failing.json'));
      await eventually(async () => (await chat(t, token)) === 200, 8000);
      assert.equal(t.gw.policy.status().live.digest, first);
    } finally {
      await t.close();
    }
  });

  it('requireSigned: an edit without a new signature is refused; re-signing makes the reload succeed', async () => {
    const dir = await bundleCopy();
    const home = await tempDir('ztgate-reload-signed-home-');
    await ensureHome(home);
    const env = { ZTGATE_MASTER_KEY: randomBytes(32).toString('base64') };
    const sign = async () => {
      const keys = new KeyManager({
        provider: await createLocalProvider({ dir: join(home, 'keys'), env }),
        cache: { maxAgeMs: 1000, maxUses: 1, maxBytes: 1, maxEntries: 0 },
      });
      try {
        await signBundle(dir, keys);
      } finally {
        await keys.close();
      }
    };
    await sign();
    // The gateway runs in the signer's home: its key provider holds the signing key.
    const t = await startTestGateway({
      home,
      env,
      yaml: `policy: { bundle: "${dir}", requireSigned: true, watch: false }\n`,
    });
    try {
      const first = t.gw.policy.status().live;
      assert.match(first.signedBy ?? '', /^policy-signing@/);
      const token = await t.token('erin');
      assert.equal(await chat(t, token), 200);

      await append(dir, FORBID_DEMO);
      const refused = await t.gw.policy.reload('admin', 'test');
      assert.equal(refused.live.outcome, 'rejected');
      assert.equal(refused.live.outcome === 'rejected' && refused.live.code, 'policy.digest_mismatch');
      assert.equal(refused.live.digest, first.digest);
      assert.equal(t.gw.policy.status().live.digest, first.digest);
      assert.equal(await chat(t, token), 200, 'the signed bundle keeps deciding');
      const row = (await reloadRows(t.gw)).find((e) => e.errorCode === 'policy.digest_mismatch');
      assert.equal(row?.principalId, 'test');
      assert.equal(row?.authMethod, 'admin');

      await sign();
      const replaced = await t.gw.policy.reload('admin', 'test');
      assert.equal(replaced.live.outcome, 'replaced');
      assert.equal(t.gw.policy.status().live.digest, (await loadBundle(dir)).digest);
      assert.match(t.gw.policy.status().live.signedBy ?? '', /^policy-signing@/);
      assert.equal(await chat(t, token), 403);
    } finally {
      await t.close();
    }
  });

  describe('SIGHUP to `ztgate up`', () => {
    before(() => {
      if (!existsSync(join(ROOT, 'dist/gateway/policy-service.js'))) {
        const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
        assert.equal(build.status, 0, build.stdout + build.stderr);
      }
    });

    it('reloads the bundle: the admin metrics show the new digest', async () => {
      const home = await tempDir('ztgate-reload-sighup-');
      const dir = join(home, 'bundle');
      await cp(DEFAULT_BUNDLE, dir, { recursive: true });
      await writeFile(
        join(home, 'ztgate.yaml'),
        `server: { port: 0, adminPort: 0 }\npolicy: { bundle: bundle, watch: false }\n`,
      );
      const first = (await loadBundle(dir)).digest;
      const child = spawn(process.execPath, [BIN, 'up', '--home', home], {
        cwd: ROOT,
        env: { ...process.env, ZTGATE_MASTER_KEY: '' },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        await eventually(
          () => /ztgate admin \(.*\) on (http:\/\/\S+)/.test(out) || child.exitCode !== null,
          15_000,
        );
        const admin = /ztgate admin \(.*\) on (http:\/\/\S+)/.exec(out)?.[1];
        assert.ok(admin, `no admin URL: ${out}${err}`);
        const liveDigest = async () => {
          const text = await (await fetch(`${admin}/metrics`)).text();
          return /ztgate_policy_bundle_info\{bundle="live",digest="([^"]+)"\} 1/.exec(text)?.[1];
        };
        assert.equal(await liveDigest(), first);

        await append(dir, FORBID_DEMO);
        const second = (await loadBundle(dir)).digest;
        assert.notEqual(second, first);
        assert.ok(child.pid);
        process.kill(child.pid, 'SIGHUP');
        await eventually(async () => (await liveDigest()) === second, 10_000);
        const text = await (await fetch(`${admin}/metrics`)).text();
        assert.equal(
          sample(text, 'ztgate_policy_reloads_total', {
            bundle: 'live',
            trigger: 'signal',
            outcome: 'replaced',
          }),
          1,
        );

        // A second SIGHUP with a broken bundle: refused, the running one stays.
        await writeFile(join(dir, 'policies.cedar'), 'forbid (');
        process.kill(child.pid, 'SIGHUP');
        await eventually(async () => {
          const t = await (await fetch(`${admin}/metrics`)).text();
          return (
            sample(t, 'ztgate_policy_reloads_total', {
              bundle: 'live',
              trigger: 'signal',
              outcome: 'rejected',
            }) === 1
          );
        }, 10_000);
        assert.equal(await liveDigest(), second);
        assert.equal(child.exitCode, null, 'the process keeps running');
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    });
  });

  it('replicas: an admin reload on one gateway reloads the others over the bus', async () => {
    const keyPrefix = `ztgate-test-${randomBytes(4).toString('hex')}:`;
    const dirA = await bundleCopy();
    const dirB = await bundleCopy();
    const yaml = (dir: string) =>
      `policy: { bundle: "${dir}", watch: false }\nbus: { url: "${REDIS_URL}", keyPrefix: "${keyPrefix}" }\n`;
    const a = await startTestGateway({ yaml: yaml(dirA) });
    let b: TestGateway | undefined;
    try {
      b = await startTestGateway({ yaml: yaml(dirB) });
      const gwB = b.gw;
      const first = a.gw.policy.status().live.digest;
      assert.equal(gwB.policy.status().live.digest, first);

      await append(dirA, FORBID_DEMO);
      await append(dirB, FORBID_DEMO);
      const second = (await loadBundle(dirA)).digest;
      const result = await a.gw.policy.reload('admin', 'test');
      assert.equal(result.live.outcome, 'replaced');
      assert.equal(a.gw.policy.status().live.digest, second);
      await eventually(() => gwB.policy.status().live.digest === second, 8000);
      assert.equal(gwB.policy.status().live.lastReload?.trigger, 'replica');
      await eventually(async () =>
        (await reloadRows(gwB)).some((e) => e.transformations.includes('trigger:replica')),
      );
      const row = (await reloadRows(gwB)).find((e) => e.transformations.includes('trigger:replica'));
      assert.equal(row?.target, `policy:live:${second}`);
      assert.ok(row?.transformations.includes('outcome:replaced'));
      // The announcing gateway does not reload twice on its own announcement.
      assert.equal((await reloadRows(a.gw)).length, 1);
      assert.equal(a.gw.policy.status().live.lastReload?.trigger, 'admin');
    } finally {
      await b?.close();
      await a.close();
      await dropPrefix(keyPrefix);
    }
  });
});
