import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

describe('OpenAI SDK, unchanged, against ztgate in demo mode', () => {
  let t: TestGateway;
  let client: OpenAI;

  before(async () => {
    t = await startTestGateway();
    client = new OpenAI({
      baseURL: `${t.gw.dataUrl}/v1`,
      apiKey: await t.token('alice', ['analyst']),
      maxRetries: 0,
    });
  });
  after(() => t.close());

  it('lists the demo model, labelled as demo', async () => {
    const models = await client.models.list();
    const demo = models.data.find((m) => m.id === 'demo');
    assert.ok(demo);
    assert.equal(demo.owned_by, 'ztgate-demo');
  });

  it('chat completion: the demo model describes exactly what it received', async () => {
    const answer = await client.chat.completions.create({
      model: 'demo',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hello, my name is Alice Smith.' },
      ],
      max_tokens: 64,
    });
    assert.equal(answer.object, 'chat.completion');
    assert.equal(answer.model, 'demo');
    const text = answer.choices[0]?.message.content ?? '';
    assert.match(text, /Hello, my name is Alice Smith\./);
    // The system prompt is described, not repeated; it arrived with the guard's canary appended.
    const system = /- system: \((\d+) characters, not repeated\)/.exec(text);
    assert.ok(system && Number(system[1]) > 'You are terse.'.length, text);
    assert.doesNotMatch(text, /You are terse/);
    assert.ok(answer.usage && answer.usage.total_tokens > 0);

    const records = await t.gw.store.audit.list({});
    const mine = records.filter((r) => r.entry.phase === 'release' && r.entry.action === 'chat.completions');
    assert.ok(mine.length >= 1);
    const entry = mine.at(-1)!.entry;
    assert.equal(entry.decision, 'allow');
    assert.equal(entry.modelId, 'demo');
    assert.match(entry.principalId ?? '', /#alice$/);
    assert.match(entry.promptSha256 ?? '', /^[0-9a-f]{64}$/);
    assert.match(entry.answerSha256 ?? '', /^[0-9a-f]{64}$/);
    assert.ok((entry.promptTokens ?? 0) > 0);
  });

  it('streaming chat with include_usage: chunks reassemble and usage arrives last', async () => {
    const stream = await client.chat.completions.create({
      model: 'demo',
      messages: [{ role: 'user', content: 'Stream this back to me, please.' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      assert.equal(chunk.model, 'demo');
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(chunks > 2);
    assert.match(text, /Stream this back to me, please\./);
    assert.ok(usage && usage.completion_tokens > 0);
  });

  it('streaming chat without include_usage: no usage chunk reaches the client, audit still has tokens', async () => {
    const stream = await client.chat.completions.create({
      model: 'demo',
      messages: [{ role: 'user', content: 'No usage for me.' }],
      stream: true,
    });
    let sawUsage = false;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      if (chunk.usage || chunk.choices.length === 0) sawUsage = true;
    }
    assert.equal(sawUsage, false);
    // The completion record is written just after the stream ends.
    let complete;
    for (let i = 0; i < 50 && !complete; i++) {
      const records = await t.gw.store.audit.list({ limit: 1000 });
      complete = records.find(
        (r) => r.entry.phase === 'complete' && r.entry.completionTokens !== null && r.entry.stream,
      );
      if (!complete) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(complete, 'a complete record with token counts');
    assert.equal(complete.entry.status, 200);
  });

  it('embeddings', async () => {
    const result = await client.embeddings.create({ model: 'demo', input: ['one', 'two'] });
    assert.equal(result.data.length, 2);
    assert.equal(result.model, 'demo');
    assert.ok(Array.isArray(result.data[0]?.embedding));
    assert.ok(result.data[0]!.embedding.length > 0);
  });

  it('refuses an unknown model with model_not_found (404), and a missing token with 401', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) =>
        err instanceof OpenAI.NotFoundError && (err.error as { code?: string }).code === 'model_not_found',
    );
    const anonymous = new OpenAI({ baseURL: `${t.gw.dataUrl}/v1`, apiKey: 'not-a-token', maxRetries: 0 });
    await assert.rejects(
      anonymous.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) =>
        err instanceof OpenAI.AuthenticationError &&
        (err.error as { code?: string }).code === 'unauthenticated',
    );
  });

  it('counts each request once in the metrics, streamed ones included', async () => {
    const metrics = await (await fetch(`${t.gw.adminUrl}/metrics`)).text();
    const count = (status: number) =>
      Number(
        new RegExp(
          `ztgate_http_requests_total\\{route="/v1/chat/completions",status="${status}"\\} (\\d+)`,
        ).exec(metrics)?.[1] ?? 0,
      );
    assert.equal(count(200), 3, 'one plain and two streamed chat completions');
    assert.equal(count(404), 1);
    assert.equal(count(401), 1);
  });
});
