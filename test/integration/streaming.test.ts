import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/** An upstream whose stream is slow (one chunk every 50 ms) or breaks after two chunks. */
function trickleUpstream() {
  const state = { closedAt: 0, openedAt: 0 };
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.openedAt = Date.now();
      res.on('close', () => (state.closedAt = Date.now()));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const breakIt = req.headers['x-test-break'] === '1';
      let n = 0;
      const timer = setInterval(() => {
        n++;
        const chunk = {
          id: 'c',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'slow',
          choices: [{ index: 0, delta: { content: `part${n} ` }, finish_reason: null }],
        };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        if (breakIt && n === 2) {
          clearInterval(timer);
          setTimeout(() => res.socket?.destroy(), 30);
        }
        if (n === 100) {
          clearInterval(timer);
          res.end('data: [DONE]\n\n');
        }
      }, 50);
      res.on('close', () => clearInterval(timer));
    });
  });
  return { server, state };
}

describe('streaming through the pipeline', () => {
  const upstream = trickleUpstream();
  let t: TestGateway;
  let token: string;

  before(async () => {
    await new Promise<void>((r) => upstream.server.listen(0, '127.0.0.1', r));
    const port = (upstream.server.address() as AddressInfo).port;
    t = await startTestGateway({
      // Stream mechanics, chunk by chunk: no hold-back window (guard-streaming.test.ts tests it).
      yaml: `
guard: { output: { holdBackChars: 0 } }
upstreams:
  slow: { kind: openai-compatible, baseUrl: "http://127.0.0.1:${port}/v1", retries: 0, extraHeaders: {} }
  broken: { kind: openai-compatible, baseUrl: "http://127.0.0.1:${port}/v1", retries: 0, extraHeaders: { x-test-break: "1" } }
models:
  - { id: slow, upstream: slow, upstreamModel: slow }
  - { id: broken, upstream: broken, upstreamModel: slow }
`,
    });
    token = await t.token('erin');
  });
  after(async () => {
    await t.close();
    upstream.server.closeAllConnections();
    await new Promise((r) => upstream.server.close(r));
  });

  it('a client that goes away mid-stream aborts the upstream call, and the record says 499', async () => {
    const controller = new AbortController();
    const res = await fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow', stream: true, messages: [{ role: 'user', content: 'go' }] }),
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /part1/);
    const abortedAt = Date.now();
    controller.abort();
    for (let i = 0; i < 100 && upstream.state.closedAt === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.ok(upstream.state.closedAt > 0, 'upstream connection closed');
    assert.ok(upstream.state.closedAt - abortedAt < 1000, 'closed within a second');
    let record;
    for (let i = 0; i < 100 && !record; i++) {
      const rows = await t.gw.store.audit.list({ limit: 1000 });
      record = rows.find((r) => r.entry.phase === 'complete' && r.entry.modelId === 'slow');
      if (!record) await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(record?.entry.status, 499);
    assert.equal(record?.entry.errorCode, 'client_closed');
  });

  it('an upstream that breaks mid-stream ends the stream with an error event the SDK raises', async () => {
    const client = new OpenAI({ baseURL: `${t.gw.dataUrl}/v1`, apiKey: token, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'broken',
      stream: true,
      messages: [{ role: 'user', content: 'go' }],
    });
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })(),
      (err: unknown) => err instanceof OpenAI.APIError && /runtime/.test(err.message),
    );
    assert.match(text, /part1 part2/);
  });
});
