// A request that needs a key is refused when the key cannot be used: the stage that asked fails
// closed with its own stable code, the client learns nothing more, and the log names the key error.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TransformStage } from '../../src/core/index.js';
import type { KeyManager } from '../../src/keys/index.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

describe('requests that need a key fail closed', () => {
  let fake: FakeUpstream;
  let t: TestGateway;
  let token: string;
  let keys: KeyManager | undefined;
  const context = { tenant: 'acme', recordId: 'r1', purpose: 'pseudonym' };

  // Stands in for the pseudonymisation transform (a later issue): it seals what it replaces.
  const transform: TransformStage = async (ctx) => {
    if (!keys) throw new Error('keys not ready');
    await keys.encrypt('pseudonyms', Buffer.from('Alice Smith'), context);
    return { request: ctx.request, transformations: [] };
  };

  before(async () => {
    fake = await startFakeUpstream();
    t = await startTestGateway({
      stageOverrides: { transform },
      yaml: `
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${fake.url}", retries: 0 }
models:
  - { id: m, upstream: fake, upstreamModel: fake-model }
`,
    });
    keys = t.gw.keys;
    token = await t.token('alice');
  });
  after(async () => {
    await t.close();
    await fake.close();
  });

  const ask = () =>
    fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello' }] }),
    });

  it('refuses while the key does not exist, serves once it does, refuses once it is disabled', async () => {
    let res = await ask();
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'transform_failed');
    assert.doesNotMatch(body.error.message, /key|pseudonyms/i);
    assert.match(t.logs.text(), /key_not_found/);
    assert.equal(fake.total(), 0, 'nothing reached the model');

    await keys!.createKey('pseudonyms', 'aes-256-gcm', 'test');
    res = await ask();
    assert.equal(res.status, 200);
    assert.equal(fake.total(), 1);

    await keys!.rotateKey('pseudonyms', 'test');
    await keys!.disableVersion({ name: 'pseudonyms', version: 1 }, 'test');
    res = await ask();
    assert.equal(res.status, 200, 'a disabled older version does not stop new encryptions');
    await keys!.provider.close();
    res = await ask();
    assert.equal(res.status, 503);
    assert.match(t.logs.text(), /provider_closed/);
    const metrics = await (await fetch(`${t.gw.adminUrl}/metrics`)).text();
    assert.match(
      metrics,
      /ztgate_key_provider_operations_total\{provider="local",operation="wrapKey",outcome="key_not_found"\} 1/,
    );
    assert.match(
      metrics,
      /ztgate_key_provider_operations_total\{provider="local",operation="wrapKey",outcome="ok"\} 2/,
    );
    assert.match(
      metrics,
      /ztgate_key_provider_operations_total\{provider="local",operation="wrapKey",outcome="provider_closed"\} 1/,
    );
    assert.match(
      metrics,
      /ztgate_key_provider_duration_seconds_count\{provider="local",operation="wrapKey"\} 4/,
    );
    assert.match(metrics, /ztgate_key_cache_entries\{side="decrypt"\} 0/);
    const ready = await fetch(`${t.gw.adminUrl}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /keys:local/);
  });
});
