// The Cedar decision point in the running gateway (the built-in bundle unless policy.bundle is
// set): a model gets only the data classes it accepts; the decision's
// policies and bundle digest are audited; the denying policy reaches the client only when
// policy.showDenyingPolicy is on; a bundle that does not load stops the start.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/cli/logger.js';
import { ensureHome, parseConfig } from '../../src/config/index.js';
import { startGateway } from '../../src/gateway/assemble.js';
import { KeyManager } from '../../src/keys/index.js';
import { createLocalProvider } from '../../src/keys/providers/local.js';
import { signBundle } from '../../src/policy/index.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { LogCapture, startTestGateway, type TestGateway } from '../helpers/gateway.js';

const DEFAULT_BUNDLE = resolve(fileURLToPath(new URL('../../examples/policies/default', import.meta.url)));

describe('policy in the gateway', () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeUpstream();
  });
  after(() => fake.close());

  const yaml = (show: boolean) => `
policy: { bundle: "${DEFAULT_BUNDLE}", showDenyingPolicy: ${show} }
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${fake.url}", retries: 0 }
models:
  - { id: onprem, upstream: fake, upstreamModel: fake-model, attributes: { runtimeKind: on_prem, region: eu } }
  - { id: cloud, upstream: fake, upstreamModel: fake-model, attributes: { runtimeKind: cloud, provider: openai, dataClasses: [public] } }
`;
  const ask = (t: TestGateway, token: string, model: string) =>
    fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('the built-in bundle: allows a model its data class, denies another; audits policies and digest', async () => {
    const t = await startTestGateway({ yaml: yaml(false).replace(/^policy: .*$/m, '') });
    try {
      const token = await t.token('erin');
      const allowed = await ask(t, token, 'onprem');
      assert.equal(allowed.status, 200, await allowed.text());
      const denied = await ask(t, token, 'cloud');
      assert.equal(denied.status, 403);
      const body = (await denied.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'policy_denied');
      assert.doesNotMatch(body.error.message, /Denied by/, 'policy ids stay internal by default');
      // A refusal's audit row is written after the refusal went out (best effort): wait for it.
      const entries = async () => (await t.gw.store.audit.list({ limit: 100 })).map((r) => r.entry);
      let rows = await entries();
      for (let i = 0; i < 100 && !rows.some((e) => e.phase === 'refused'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        rows = await entries();
      }
      const served = rows.find((e) => e.phase === 'release');
      assert.match(served?.bundleDigest ?? '', /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(served?.determiningPolicies, ['allow-accepted-data-class']);
      assert.deepEqual(served?.obligations, []);
      assert.equal(t.gw.policy.status().live.builtin, true);
      assert.equal(served?.bundleDigest, t.gw.policy.status().live.digest);
      const refused = rows.find((e) => e.phase === 'refused');
      assert.equal(refused?.errorCode, 'policy_denied');
      assert.equal(refused?.bundleDigest, served?.bundleDigest);
      assert.equal(refused?.decision, 'deny');
      assert.equal(fake.total() >= 1, true);
    } finally {
      await t.close();
    }
  });

  it('names the denying policy to the client only when configured', async () => {
    const bundle = await mkdtemp(join(tmpdir(), 'ztgate-policy-bundle-'));
    await writeFile(
      join(bundle, 'policies.cedar'),
      `@id("allow-chat")
permit (principal is Ztgate::User, action == Ztgate::Action::"chat", resource is Ztgate::Model);
@id("forbid-cloud")
forbid (principal, action, resource is Ztgate::Model) when { resource.runtimeKind == "cloud" };
`,
    );
    const t = await startTestGateway({ yaml: yaml(true).replace(DEFAULT_BUNDLE, bundle) });
    try {
      const token = await t.token('erin');
      assert.equal((await ask(t, token, 'onprem')).status, 200);
      const denied = await ask(t, token, 'cloud');
      assert.equal(denied.status, 403);
      const body = (await denied.json()) as { error: { message: string } };
      assert.equal(body.error.message, 'The request is not permitted by policy. Denied by: forbid-cloud.');
    } finally {
      await t.close();
      await rm(bundle, { recursive: true, force: true });
    }
  });

  it('refuses to start on a bundle that does not load', async () => {
    const home = await mkdtemp(join(tmpdir(), 'ztgate-policy-bad-'));
    await ensureHome(home);
    try {
      await assert.rejects(
        startGateway({
          config: parseConfig(
            `server: { port: 0, adminPort: 0 }\npolicy: { bundle: "${join(home, 'no-such-bundle')}" }\n`,
          ),
          home,
          logger: createLogger('silent', new LogCapture()),
          processMetrics: false,
        }),
        (err: Error & { code?: string }) => {
          assert.match(err.code ?? '', /^policy\./);
          return true;
        },
      );
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
  it('with requireSigned, starts only on a bundle signed by a trusted key and unchanged since', async () => {
    const bundle = await mkdtemp(join(tmpdir(), 'ztgate-policy-signed-'));
    await cp(DEFAULT_BUNDLE, bundle, { recursive: true });
    const home = await mkdtemp(join(tmpdir(), 'ztgate-policy-signed-home-'));
    await ensureHome(home);
    const env = { ZTGATE_MASTER_KEY: randomBytes(32).toString('base64') };
    const config = parseConfig(
      `server: { port: 0, adminPort: 0 }\npolicy: { bundle: "${bundle}", requireSigned: true }\n`,
    );
    const start = () =>
      startGateway({
        config,
        home,
        env,
        logger: createLogger('silent', new LogCapture()),
        processMetrics: false,
      });
    const code = async (): Promise<string | undefined> => {
      try {
        await (await start()).close();
        return undefined;
      } catch (err) {
        return (err as { code?: string }).code;
      }
    };
    try {
      assert.equal(await code(), 'policy.signature_missing');
      const keys = new KeyManager({
        provider: await createLocalProvider({ dir: join(home, 'keys'), env }),
        cache: { maxAgeMs: 1000, maxUses: 1, maxBytes: 1, maxEntries: 0 },
      });
      await signBundle(bundle, keys);
      await keys.close();
      assert.equal(await code(), undefined, 'a signed, unchanged bundle starts');
      await writeFile(
        join(bundle, 'policies.cedar'),
        (await readFile(join(bundle, 'policies.cedar'), 'utf8')) +
          '\n// edited\n@id("x")\npermit (principal, action, resource);\n',
      );
      assert.equal(await code(), 'policy.digest_mismatch');
    } finally {
      await rm(bundle, { recursive: true, force: true });
      await rm(home, { recursive: true, force: true });
    }
  });
});
