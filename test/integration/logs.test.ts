import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startFakeUpstream, FAKE_ANSWER, type FakeUpstream } from '../helpers/fake-upstream.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/** Prompt text, answers, tokens and secrets never reach the logs; every request line has an id. */
describe('logs', () => {
  const UPSTREAM_KEY = 'sk-upstream-SECRET-7f3a9c2e1b';
  const PROMPT = 'My card is 4111-1111-1111-1111 and my password is hunter2-PROMPT-MARKER';
  let fake: FakeUpstream;
  let t: TestGateway;
  let token: string;

  before(async () => {
    fake = await startFakeUpstream();
    // The prompt holds a card number and a password: the built-in bundle would refuse it; this
    // test needs it served (and its findings logged and audited) to check what the logs hold.
    const bundle = await mkdtemp(join(tmpdir(), 'ztgate-logs-bundle-'));
    await writeFile(join(bundle, 'p.cedar'), '@id("allow-all") permit (principal, action, resource);');
    t = await startTestGateway({
      env: { UPSTREAM_KEY_REF: UPSTREAM_KEY },
      yaml: `
policy: { bundle: "${bundle}", watch: false }
upstreams:
  fake: { kind: openai-compatible, baseUrl: "${fake.url}", apiKey: "env:UPSTREAM_KEY_REF", retries: 0 }
models:
  - { id: m, upstream: fake, upstreamModel: fake-model }
`,
    });
    token = await t.token('carol');
    const client = new OpenAI({ baseURL: `${t.gw.dataUrl}/v1`, apiKey: token, maxRetries: 0 });
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: PROMPT }] });
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: PROMPT }],
      stream: true,
    });
    for await (const _ of stream) void _;
    await client.embeddings.create({ model: 'm', input: PROMPT });
    await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: PROMPT }] });
    // refusals too
    await fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}x`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: PROMPT }] }),
    });
    await new Promise((r) => setTimeout(r, 200));
  });
  after(async () => {
    await t.close();
    await fake.close();
  });

  it('logs something for each request (the test is not vacuous)', () => {
    const served = t.logs.lines.filter(
      (l) => l.includes('"request served"') || l.includes('"stream served"'),
    );
    assert.ok(served.length >= 4, t.logs.text());
    assert.ok(t.logs.lines.some((l) => l.includes('"request refused"')));
  });

  it('never contains the prompt, the answer, the bearer token or the upstream key', () => {
    const text = t.logs.text();
    for (const secret of [
      PROMPT,
      'hunter2-PROMPT-MARKER',
      '4111-1111-1111-1111',
      FAKE_ANSWER,
      'forty-two',
      token,
      token.split('.')[2]!,
      UPSTREAM_KEY,
    ]) {
      assert.ok(!text.includes(secret), `logs contain ${secret.slice(0, 12)}…`);
    }
  });

  it('every line about a request carries its request id', () => {
    for (const line of t.logs.lines) {
      const entry = JSON.parse(line) as { msg?: string; requestId?: string };
      if (
        entry.msg === 'request served' ||
        entry.msg === 'stream served' ||
        entry.msg === 'request refused'
      ) {
        assert.match(entry.requestId ?? '', /^[0-9a-f-]{36}$/);
      }
    }
  });
});
