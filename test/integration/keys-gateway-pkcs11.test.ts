// The gateway on a PKCS#11 HSM (SoftHSM2): sealed config secrets open through the token, and a
// start whose HSM cannot be used fails with the key error's stable code (fail closed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { ensureHome, parseConfig } from '../../src/config/index.js';
import { startGateway } from '../../src/gateway/assemble.js';
import { createLogger } from '../../src/cli/logger.js';
import { KeyManager, sealSecret } from '../../src/keys/index.js';
import { createPkcs11Provider } from '../../src/keys/providers/pkcs11.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { LogCapture, startTestGateway } from '../helpers/gateway.js';
import { createSoftHsm } from '../helpers/softhsm.js';

const hsm = createSoftHsm('gateway');
const SECRET = 'sk-hsm-SEALED-5e4d3c2b1a09';

function keysYaml(overrides: { module?: string; tokenLabel?: string } = {}): string {
  return `
keys:
  provider: pkcs11
  pkcs11:
    module: ${overrides.module ?? hsm.modulePath}
    tokenLabel: ${overrides.tokenLabel ?? hsm.tokenLabel}
    pin: env:HSM_PIN
`;
}

describe('gateway with the pkcs11 key provider', () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeUpstream();
  });
  after(async () => {
    await fake.close();
    hsm.cleanup();
  });

  it('starts on the HSM, opens a secret sealed under an HSM key, and reports the provider ready', async () => {
    const keys = new KeyManager({
      provider: await createPkcs11Provider({
        modulePath: hsm.modulePath,
        tokenLabel: hsm.tokenLabel,
        pin: hsm.pin,
      }),
      cache: { maxAgeMs: 1000, maxUses: 10, maxBytes: 1 << 20, maxEntries: 10 },
    });
    const ref = await sealSecret(keys, SECRET, 'test', 'upstreams.fake.apiKey');
    await keys.close();
    const seen: string[] = [];
    fake.onRequest = (headers) => seen.push(String(headers.authorization));
    const t = await startTestGateway({
      env: { HSM_PIN: hsm.pin },
      yaml: `${keysYaml()}
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${fake.url}", apiKey: "${ref}", retries: 0 }
models:
  - { id: m, upstream: fake, upstreamModel: fake-model }
`,
    });
    try {
      assert.equal(t.gw.keys.provider.kind, 'pkcs11');
      const client = new OpenAI({ baseURL: `${t.gw.dataUrl}/v1`, apiKey: await t.token(), maxRetries: 0 });
      await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
      assert.deepEqual(seen, [`Bearer ${SECRET}`]);
      const ready = await fetch(`${t.gw.adminUrl}/readyz`);
      assert.equal(ready.status, 200);
      assert.match(await ready.text(), /keys:pkcs11/);
      assert.ok(!t.logs.text().includes(hsm.pin), 'the PIN is not logged');
      assert.ok(!t.logs.text().includes(SECRET));
    } finally {
      await t.close();
      fake.onRequest = undefined;
    }
  });

  for (const [label, yaml, env, code] of [
    [
      'module missing',
      keysYaml({ module: '/nonexistent/libpkcs11.so' }),
      { HSM_PIN: hsm.pin },
      'hsm_module_missing',
    ],
    ['token absent', keysYaml({ tokenLabel: 'no-such-token' }), { HSM_PIN: hsm.pin }, 'hsm_token_absent'],
    ['wrong PIN', keysYaml(), { HSM_PIN: 'wrong-pin-000' }, 'hsm_pin_incorrect'],
  ] as const) {
    it(`refuses to start when the HSM cannot be used: ${label}`, async () => {
      const home = await mkdtemp(join(tmpdir(), 'ztgate-hsm-start-'));
      await ensureHome(home);
      const logs = new LogCapture();
      try {
        await assert.rejects(
          startGateway({
            config: parseConfig(`server: { port: 0, adminPort: 0 }\n${yaml}`, {}),
            home,
            env,
            logger: createLogger('debug', logs),
            processMetrics: false,
          }),
          (err: Error & { code?: string }) => {
            assert.equal(err.code, code);
            assert.ok(!err.message.includes(env.HSM_PIN), 'the PIN is not in the error');
            return true;
          },
        );
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    });
  }
});
