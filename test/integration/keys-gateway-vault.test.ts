// The gateway on the vault-transit provider, against the Vault API stub (Vault cannot run here):
// sealed config secrets open through Vault, and a Vault that refuses or cannot be reached stops
// the start with the key error's stable code (fail closed).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { createLogger } from '../../src/cli/logger.js';
import { ensureHome, parseConfig } from '../../src/config/index.js';
import { startGateway } from '../../src/gateway/assemble.js';
import { KeyManager, sealSecret } from '../../src/keys/index.js';
import { createVaultTransitProvider } from '../../src/keys/providers/vault-transit.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { LogCapture, startTestGateway } from '../helpers/gateway.js';
import { startVaultStub, type VaultStub } from '../helpers/vault-transit-stub.js';

const TOKEN = 'hvs.gateway-test-token-abcdef0123';
const SECRET = 'sk-vault-SEALED-77aa66bb55cc';

describe('gateway with the vault-transit key provider', () => {
  let fake: FakeUpstream;
  let vault: VaultStub;
  before(async () => {
    fake = await startFakeUpstream();
    vault = await startVaultStub({ token: TOKEN });
  });
  after(async () => {
    await fake.close();
    await vault.close();
  });

  const keysYaml = (address: string) => `
keys:
  provider: vault-transit
  vault: { address: "${address}", token: env:VAULT_TOKEN, timeoutMs: 1000 }
`;

  it('opens a secret sealed under a Vault key and reports Vault ready', async () => {
    const keys = new KeyManager({
      provider: await createVaultTransitProvider({ address: vault.address, token: TOKEN }),
      cache: { maxAgeMs: 1000, maxUses: 10, maxBytes: 1 << 20, maxEntries: 10 },
    });
    const ref = await sealSecret(keys, SECRET, 'test');
    await keys.close();
    const seen: string[] = [];
    fake.onRequest = (headers) => seen.push(String(headers.authorization));
    const t = await startTestGateway({
      env: { VAULT_TOKEN: TOKEN },
      yaml: `${keysYaml(vault.address)}
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${fake.url}", apiKey: "${ref}", retries: 0 }
models:
  - { id: m, upstream: fake, upstreamModel: fake-model }
`,
    });
    try {
      assert.equal(t.gw.keys.provider.kind, 'vault-transit');
      const client = new OpenAI({ baseURL: `${t.gw.dataUrl}/v1`, apiKey: await t.token(), maxRetries: 0 });
      await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
      assert.deepEqual(seen, [`Bearer ${SECRET}`]);
      const ready = await fetch(`${t.gw.adminUrl}/readyz`);
      assert.equal(ready.status, 200);
      assert.match(await ready.text(), /keys:vault-transit/);
      const decrypts = vault.requests.filter((r) => r.path === '/v1/transit/decrypt/config-secrets');
      assert.equal(decrypts.length, 1, 'the sealed value was opened by Vault');
      assert.ok(!t.logs.text().includes(TOKEN) && !t.logs.text().includes(SECRET));
    } finally {
      await t.close();
      fake.onRequest = undefined;
    }
  });

  for (const [label, address, token, code] of [
    ['Vault answers 403', () => vault.address, 'hvs.wrong-token-000000', 'provider_denied'],
    ['Vault unreachable', () => 'http://127.0.0.1:1', TOKEN, 'provider_unreachable'],
  ] as const) {
    it(`refuses to start when ${label}`, async () => {
      const home = await mkdtemp(join(tmpdir(), 'ztgate-vault-start-'));
      await ensureHome(home);
      try {
        await assert.rejects(
          startGateway({
            config: parseConfig(`server: { port: 0, adminPort: 0 }\n${keysYaml(address())}`, {}),
            home,
            env: { VAULT_TOKEN: token },
            logger: createLogger('debug', new LogCapture()),
            processMetrics: false,
          }),
          (err: Error & { code?: string }) => {
            assert.equal(err.code, code);
            assert.ok(!err.message.includes(token));
            return true;
          },
        );
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    });
  }
});
