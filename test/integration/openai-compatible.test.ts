import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatRequest } from '../../src/core/api.js';
import { UpstreamError } from '../../src/core/errors.js';
import type { UpstreamConnector } from '../../src/core/upstream.js';
import { startDemoModel } from '../../src/demo/model-server.js';
import {
  createOpenAiCompatibleConnector,
  type OpenAiCompatibleOptions,
} from '../../src/runtime/connectors/openai-compatible.js';
import { createConnector } from '../../src/runtime/connectors/registry.js';

const KEY = 'sk-test-SECRET-4242';
const CHAT: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'Hello "there"' }] };
const CHUNK = (text: string): string =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text } }] })}\n\n`;
const COMPLETION = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }] });

const connectors: UpstreamConnector[] = [];
function connector(baseUrl: string, overrides: Partial<OpenAiCompatibleOptions> = {}): UpstreamConnector {
  const c = createOpenAiCompatibleConnector('test', {
    baseUrl,
    connectTimeoutMs: 2000,
    headersTimeoutMs: 5000,
    bodyTimeoutMs: 5000,
    totalTimeoutMs: 10_000,
    retries: 0,
    maxConnections: 4,
    ...overrides,
  });
  connectors.push(c);
  return c;
}
const call = (signal = new AbortController().signal) => ({ signal, requestId: 'req-1' });

interface Seen {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Resolves when the socket that carried the request closes. */
  readonly closed: Promise<void>;
}
interface AdHoc {
  readonly url: string;
  readonly seen: Seen[];
  connections: number;
}
const servers: { close(): void; closeAllConnections(): void }[] = [];

/** A throwaway upstream: records each request, then lets `handler` answer it. */
async function adHoc(handler: (res: ServerResponse, n: number) => void): Promise<AdHoc> {
  const state: AdHoc = { url: '', seen: [], connections: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    const closed = new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      state.seen.push({ url: req.url ?? '', headers: req.headers, body, closed });
      handler(res, state.seen.length);
    });
  });
  server.on('connection', () => state.connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` });
}
const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });

/** Expects an UpstreamError with `code`, and checks that the api key is nowhere in it. */
async function expectErr(
  promise: Promise<unknown>,
  code: string,
  retryable?: boolean,
): Promise<UpstreamError> {
  const err: unknown = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UpstreamError, `expected an UpstreamError, got ${String(err)}`);
  assert.equal(err.code, code, err.logDetail);
  if (retryable !== undefined) assert.equal(err.retryable, retryable);
  const texts = [err.message, err.publicMessage, err.logDetail, (err.cause as Error | undefined)?.message];
  assert.ok(!texts.join('\n').includes(KEY), 'the api key leaked into an error');
  return err;
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

after(async () => {
  await Promise.all(connectors.map((c) => c.close()));
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

describe('openai-compatible connector against the demo model', () => {
  let demo: { url: string; close(): Promise<void> };
  before(async () => {
    demo = await startDemoModel({ port: 0 });
  });
  after(() => demo.close());

  it('chat, stream (with include_usage) and embeddings', async () => {
    const c = connector(demo.url);
    const completion = await c.chat(CHAT, call());
    const content = completion.choices[0]?.message.content;
    assert.match(String(content), /- user: "Hello "there""/);
    assert.ok(completion.usage && completion.usage.total_tokens > 0);

    const chunks = await collect(
      await c.chatStream({ ...CHAT, stream_options: { include_usage: true } }, call()),
    );
    const text = chunks.map((ch) => ch.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, content, 'the streamed content reassembles to the non-streamed one');
    assert.ok(chunks.length > 3);
    const last = chunks.at(-1);
    assert.deepEqual(last?.choices, []);
    assert.ok(last?.usage && last.usage.total_tokens > 0);

    const embeddings = await c.embeddings({ model: 'm', input: ['a', 'b'] }, call());
    assert.equal(embeddings.data.length, 2);
    assert.equal((embeddings.data[0]?.embedding as number[]).length, 16);
    await c.probe(new AbortController().signal);
  });

  it('maps x-demo-fail statuses and retries 503 up to the limit', async () => {
    const c = connector(demo.url, { retries: 2, extraHeaders: { 'x-demo-fail': '503' } });
    await expectErr(c.chat(CHAT, call()), 'upstream_error', true);
  });

  it('works through the official openai SDK', async () => {
    const client = new OpenAI({ baseURL: demo.url, apiKey: 'x' });
    const completion = await client.chat.completions.create({
      model: 'demo-echo',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What is 2+2?' },
      ],
      max_tokens: 20,
    });
    const content = completion.choices[0]?.message.content ?? '';
    assert.match(content, /^\[demo model\] I received 2 messages\./);
    assert.ok(content.includes('- user: "What is 2+2?"') && content.includes('max_tokens=20'));

    const stream = await client.chat.completions.create({
      model: 'demo-echo',
      messages: [{ role: 'user', content: 'stream me' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    assert.ok(text.includes('- user: "stream me"'));
    assert.ok(usage && usage.completion_tokens > 0);

    const embedding = await client.embeddings.create({ model: 'demo-echo', input: 'hello' });
    assert.equal(embedding.data[0]?.embedding.length, 16);
  });
});

describe('openai-compatible connector failure handling', () => {
  it('sends the key as Bearer, or raw under a custom header, and forces stream:false for chat', async () => {
    const up = await adHoc((res) => res.end(COMPLETION));
    await connector(up.url, { apiKey: KEY, extraHeaders: { 'X-Extra': '1' } }).chat(
      { ...CHAT, stream: true, stream_options: { include_usage: true } },
      call(),
    );
    await connector(up.url, { apiKey: KEY, authHeader: 'api-key' }).chat(CHAT, call());
    assert.equal(up.seen[0]?.headers.authorization, `Bearer ${KEY}`);
    assert.equal(up.seen[0]?.headers['x-extra'], '1');
    assert.equal(up.seen[0]?.url, '/v1/chat/completions');
    const sent = JSON.parse(up.seen[0]?.body ?? '') as Record<string, unknown>;
    assert.equal(sent.stream, false);
    assert.equal(sent.stream_options, undefined);
    assert.equal(up.seen[1]?.headers['api-key'], KEY);
    assert.equal(up.seen[1]?.headers.authorization, undefined);
  });

  it('retries a 503 once, then succeeds (chat and stream)', async () => {
    const up = await adHoc((res, n) => (n % 2 === 1 ? res.writeHead(503).end('busy') : res.end(COMPLETION)));
    await connector(up.url, { retries: 1 }).chat(CHAT, call());
    assert.equal(up.seen.length, 2);
    const streamUp = await adHoc((res, n) =>
      n === 1 ? res.writeHead(503).end() : sse(res).end(CHUNK('hi')),
    );
    const chunks = await collect(await connector(streamUp.url, { retries: 1 }).chatStream(CHAT, call()));
    assert.equal(chunks.length, 1);
    assert.equal(streamUp.seen.length, 2);
  });

  it('does not retry 400, 500, 401; maps 429 as retryable', async () => {
    const statuses = [400, 500, 401, 429];
    const up = await adHoc((res, n) => res.writeHead(statuses[n - 1] ?? 500).end(`{"echo":"${KEY}"}`));
    const c = connector(up.url, { retries: 0, apiKey: KEY });
    const retrying = connector(up.url, { retries: 3, apiKey: KEY });
    await expectErr(retrying.chat(CHAT, call()), 'upstream_rejected', false);
    await expectErr(retrying.chat(CHAT, call()), 'upstream_error', false);
    const unauthorized = await expectErr(retrying.chat(CHAT, call()), 'upstream_error', false);
    assert.equal(unauthorized.logDetail, 'POST /chat/completions: status 401');
    assert.equal(up.seen.length, 3, 'none of them was retried');
    await expectErr(c.embeddings({ model: 'm', input: 'x' }, call()), 'upstream_rate_limited', true);
    await expectErr(c.probe(new AbortController().signal), 'upstream_unavailable');
  });

  it('maps connection refused to a retryable upstream_unavailable', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const c = connector(`http://127.0.0.1:${port}/v1`, { apiKey: KEY, retries: 1 });
    await expectErr(c.chat(CHAT, call()), 'upstream_unavailable', true);
    await expectErr(c.chatStream(CHAT, call()), 'upstream_unavailable', true);
    await expectErr(c.probe(new AbortController().signal), 'upstream_unavailable');
  });

  it('maps headers, total and body timeouts to upstream_timeout', async () => {
    const silent = await adHoc(() => {});
    await expectErr(connector(silent.url, { headersTimeoutMs: 150 }).chat(CHAT, call()), 'upstream_timeout');
    const stalled = await adHoc((res) => res.writeHead(200).write('{"choi'));
    await expectErr(connector(stalled.url, { totalTimeoutMs: 200 }).chat(CHAT, call()), 'upstream_timeout');
    const slowStream = await adHoc((res) => sse(res).write(CHUNK('a')));
    const stream = await connector(slowStream.url, { bodyTimeoutMs: 150 }).chatStream(CHAT, call());
    await expectErr(collect(stream), 'upstream_timeout');
  });

  it('rejects invalid JSON, chunks without choices and oversized events with upstream_error', async () => {
    const bodies = [
      `data: {"key":"${KEY}",\n\n`,
      'data: {"error":{"message":"x"}}\n\n',
      `data: ${'x'.repeat(1_100_000)}`,
    ];
    const up = await adHoc((res, n) => sse(res).end(CHUNK('ok') + bodies[n - 1]));
    const c = connector(up.url, { apiKey: KEY });
    for (let i = 0; i < bodies.length; i++) {
      const stream = await c.chatStream(CHAT, call());
      await expectErr(collect(stream), 'upstream_error');
    }
    const notSse = await adHoc((res) => res.end(COMPLETION));
    await expectErr(connector(notSse.url).chatStream(CHAT, call()), 'upstream_error', false);
    const notJson = await adHoc((res) => res.end(`<html>${KEY}</html>`));
    await expectErr(connector(notJson.url, { apiKey: KEY }).chat(CHAT, call()), 'upstream_error');
  });

  it('aborting the signal during a slow stream destroys the upstream connection', async () => {
    const up = await adHoc((res) => sse(res).write(CHUNK('first')));
    const controller = new AbortController();
    const stream = await connector(up.url).chatStream(CHAT, call(controller.signal));
    const iterator = stream[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.choices[0]?.delta.content, 'first');
    const pending = iterator.next();
    controller.abort();
    await assert.rejects(pending, { name: 'AbortError' });
    await up.seen[0]?.closed;
  });

  it('aborting before the answer rejects with AbortError', async () => {
    const up = await adHoc(() => {});
    const controller = new AbortController();
    const pending = connector(up.url).chat(CHAT, call(controller.signal));
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(pending, { name: 'AbortError' });
    await up.seen[0]?.closed;
  });

  it('breaking out of for-await, or cancel(), closes the upstream request', async () => {
    const up = await adHoc((res) => sse(res).write(CHUNK('a') + CHUNK('b')));
    const c = connector(up.url);
    for await (const chunk of await c.chatStream(CHAT, call())) {
      assert.equal(chunk.choices[0]?.delta.content, 'a');
      break;
    }
    await up.seen[0]?.closed;
    const stream = await c.chatStream(CHAT, call());
    stream.cancel();
    await up.seen[1]?.closed;
    assert.deepEqual(await collect(stream), []);
  });

  it('reuses the connection after [DONE] and applies back-pressure to a fast producer', async () => {
    const done = await adHoc((res) => sse(res).end(`${CHUNK('x')}data: [DONE]\n\n`));
    const c = connector(done.url);
    for (let i = 0; i < 3; i++) {
      assert.equal((await collect(await c.chatStream(CHAT, call()))).length, 1);
      // The rest of the body (the chunked terminator) is drained in the background after [DONE].
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(done.connections, 1);

    let written = 0;
    const event = CHUNK('y'.repeat(1000));
    const flood = await adHoc((res) => {
      const pump = (): void => {
        while (written < 100_000) {
          written++;
          if (!res.write(event)) return void res.once('drain', pump);
        }
        res.end();
      };
      sse(res);
      pump();
    });
    const stream = await connector(flood.url).chatStream(CHAT, call());
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(written < 50_000, `the producer was not slowed down (${written} events written)`);
    stream.cancel();
  });

  it('trusts only the configured CA when caPem is set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztgate-ca-'));
    try {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      writeFileSync(join(dir, 'key.pem'), key);
      const args = ['req', '-x509', '-new', '-key', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')];
      execFileSync('openssl', [
        ...args,
        '-days',
        '1',
        '-subj',
        '/CN=ztgate-test',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ]);
      const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      const server = createHttpsServer({ key, cert }, (_req, res) => res.end(COMPLETION));
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
      await connector(url, { caPem: cert }).chat(CHAT, call());
      await expectErr(connector(url, { apiKey: KEY }).chat(CHAT, call()), 'upstream_unavailable', true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the registry builds known kinds and refuses unknown ones', () => {
    assert.throws(
      () => createConnector('grpc-magic', 'u', { baseUrl: 'http://x/v1' } as OpenAiCompatibleOptions),
      /unknown connector kind "grpc-magic"/,
    );
    const c = createConnector('openai-compatible', 'u', {
      baseUrl: 'http://127.0.0.1:1/v1',
    } as OpenAiCompatibleOptions);
    assert.equal(c.kind, 'openai-compatible');
    connectors.push(c);
  });
});
