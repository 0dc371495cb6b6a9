import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { ConfigError, ensureHome, parseConfig, resolveSecret } from '../../src/config/index.js';
import { KeyManager, sealSecret, unsealSecret } from '../../src/keys/index.js';
import { createLocalProvider } from '../../src/keys/providers/local.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway } from '../helpers/gateway.js';
import { rejectsWith } from '../helpers/key-provider-contract.js';

const BIN = fileURLToPath(new URL('../../bin/ztgate.js', import.meta.url));
const SECRET = 'sk-live-SEALED-9d8c7b6a5f4e3d2c1b0a';
const CACHE = { maxAgeMs: 60_000, maxUses: 100, maxBytes: 1 << 20, maxEntries: 10 };

describe('sealed secrets', () => {
  const homes: string[] = [];
  const masterKey = randomBytes(32).toString('base64');
  after(async () => {
    for (const home of homes) await rm(home, { recursive: true, force: true });
  });
  async function home(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'ztgate-sealed-'));
    homes.push(dir);
    await ensureHome(dir);
    return dir;
  }
  async function manager(dir: string): Promise<KeyManager> {
    const provider = await createLocalProvider({
      dir: join(dir, 'keys'),
      env: { ZTGATE_MASTER_KEY: masterKey },
    });
    return new KeyManager({ provider, cache: CACHE });
  }

  it('seals to a sealed:<key-id>:<ciphertext> reference that the config schema accepts', async () => {
    const keys = await manager(await home());
    const ref = await sealSecret(keys, SECRET, 'test');
    assert.match(ref, /^sealed:config-secrets@1:[A-Za-z0-9_-]+$/);
    assert.ok(!ref.includes(SECRET));
    parseConfig(
      `upstreams:\n  a: { kind: openai-compatible, baseUrl: "https://x.example/v1", apiKey: "${ref}" }\n`,
    );
    assert.equal(await unsealSecret(keys, ref, 'upstreams.a.apiKey'), SECRET);
    // Bound to one config key: it opens there and nowhere else.
    const bound = await sealSecret(keys, SECRET, 'test', 'upstreams.a.apiKey');
    assert.equal(await unsealSecret(keys, bound, 'upstreams.a.apiKey'), SECRET);
    await rejectsWith(unsealSecret(keys, bound, 'upstreams.b.apiKey'), 'ciphertext_unauthentic');
    await rejectsWith(unsealSecret(keys, 'sealed:config-secrets@1:AAAA', 'x'), 'ciphertext_malformed');
    await keys.close();
  });

  it('fails the start naming the key and the error code, never the value', async () => {
    const dir = await home();
    const keys = await manager(dir);
    const ref = await sealSecret(keys, SECRET, 'test');
    await keys.rotateKey('config-secrets', 'test');
    await keys.destroyVersion({ name: 'config-secrets', version: 1 }, 'test');
    await assert.rejects(
      resolveSecret(ref, 'upstreams.a.apiKey', dir, {}, (r, w) => unsealSecret(keys, r, w)),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(
          err.message,
          /upstreams\.a\.apiKey: the sealed secret cannot be opened \(key_destroyed\)/,
        );
        assert.ok(!err.message.includes(SECRET));
        return true;
      },
    );
    await assert.rejects(resolveSecret(ref, 'upstreams.a.apiKey', dir, {}), /no key provider/);
    await keys.close();
  });

  describe('in a running gateway', () => {
    let fake: FakeUpstream;
    before(async () => {
      fake = await startFakeUpstream();
    });
    after(() => fake.close());

    it('opens a sealed upstream key at start; the plaintext reaches the upstream and nothing else', async () => {
      const seen: string[] = [];
      fake.onRequest = (headers) => seen.push(String(headers.authorization));
      const dir = await home();
      const keys = await manager(dir);
      const ref = await sealSecret(keys, SECRET, 'test', 'upstreams.fake.apiKey');
      await keys.close();
      const yaml = `
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${fake.url}", apiKey: "${ref}", retries: 0 }
models:
  - { id: m, upstream: fake, upstreamModel: fake-model }
`;
      const t = await startTestGateway({ yaml, env: { ZTGATE_MASTER_KEY: masterKey }, home: dir });
      try {
        const client = new OpenAI({ baseURL: `${t.gw.dataUrl}/v1`, apiKey: await t.token(), maxRetries: 0 });
        await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
        assert.deepEqual(seen, [`Bearer ${SECRET}`]);
        const metrics = await (await fetch(`${t.gw.adminUrl}/metrics`)).text();
        const ready = await (await fetch(`${t.gw.adminUrl}/readyz`)).text();
        assert.match(ready, /keys:local/);
        await writeFile(join(dir, 'ztgate.yaml'), yaml);
        const shown = spawnSync(process.execPath, [BIN, 'config', 'show', '--home', dir], {
          encoding: 'utf8',
        });
        assert.equal(shown.status, 0, shown.stderr);
        assert.match(shown.stdout, /apiKey: sealed:config-secrets@1:…/);
        for (const [where, text] of [
          ['logs', t.logs.text()],
          ['metrics', metrics],
          ['readiness', ready],
          ['config show', shown.stdout + shown.stderr],
        ] as const) {
          assert.ok(text.length > 0, `${where} is empty`);
          assert.ok(!text.includes(SECRET), `the secret appears in ${where}`);
          assert.ok(!text.includes(masterKey), `the master key appears in ${where}`);
        }
      } finally {
        await t.close();
      }
    });
  });
});
