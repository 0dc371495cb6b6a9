import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUpstream {
  readonly url: string;
  /** Requests received per path. */
  readonly calls: Map<string, number>;
  /** The JSON bodies received, in order (model requests only). */
  readonly bodies: Record<string, unknown>[];
  /** Called with the headers of each request the upstream receives. */
  onRequest?: (headers: IncomingMessage['headers']) => void;
  total(): number;
  close(): Promise<void>;
}

export const FAKE_ANSWER = 'The fake model answers: forty-two.';

function chat(res: ServerResponse, body: { stream?: boolean }): void {
  const base = { id: 'chatcmpl-fake', created: 1700000000, model: 'fake-model' };
  const usage = { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 };
  if (!body.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: FAKE_ANSWER }, finish_reason: 'stop' }],
        usage,
      }),
    );
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  res.write(chunk({ role: 'assistant', content: '' }, null));
  for (const word of FAKE_ANSWER.split(' ')) res.write(chunk({ content: `${word} ` }, null));
  res.write(chunk({}, 'stop'));
  res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
  res.end('data: [DONE]\n\n');
}

/** A minimal OpenAI-compatible upstream that counts the requests it receives. */
export async function startFakeUpstream(): Promise<FakeUpstream> {
  const calls = new Map<string, number>();
  const bodies: Record<string, unknown>[] = [];
  const fake: { onRequest?: (headers: IncomingMessage['headers']) => void } = {};
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== '/v1/models') fake.onRequest?.(req.headers);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      calls.set(path, (calls.get(path) ?? 0) + 1);
      const body = chunks.length
        ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stream?: boolean })
        : {};
      if (path !== '/v1/models') bodies.push(body as Record<string, unknown>);
      if (path === '/v1/chat/completions') return chat(res, body);
      if (path === '/v1/embeddings') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({
            object: 'list',
            data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }],
            model: 'fake-model',
            usage: { prompt_tokens: 1, total_tokens: 1 },
          }),
        );
      }
      if (path === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake-model', object: 'model' }] }));
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}/v1`,
    calls,
    bodies,
    total: () => [...calls.entries()].filter(([p]) => p !== '/v1/models').reduce((n, [, c]) => n + c, 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
