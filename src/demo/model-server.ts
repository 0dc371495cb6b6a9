/**
 * DEMO ONLY: a loopback OpenAI-compatible "model" that answers by describing exactly what it
 * received, so a user can see what the model saw after the gateway's transforms.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where the demo model listens and what it calls itself. */
export interface DemoModelOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Default 'demo-echo'. */
  readonly modelId?: string;
}

/** A running demo model. */
export interface DemoModel {
  /** The base URL, ending in /v1. */
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY = 8 * 1024 * 1024;
const MAX_DELAY_MS = 10_000;
const WORDS_PER_CHUNK = 4;
const EMBEDDING_SIZE = 16;
const JSON_HEADERS = { 'content-type': 'application/json' };
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, JSON_HEADERS).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, message: string): void {
  const type = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  sendJson(res, status, { error: { message, type, param: null, code: null } });
}

/** A deterministic stand-in for a tokenizer: one token per 4 characters, rounded up. */
function countTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The text of a message: a string, or the text parts of a content array joined by newlines. */
function messageText(content: unknown): { text: string; other: string[] } {
  if (typeof content === 'string') return { text: content, other: [] };
  const texts: string[] = [];
  const other: string[] = [];
  if (Array.isArray(content)) {
    for (const part of content) {
      if (isRecord(part) && part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
      else other.push(isRecord(part) && typeof part.type === 'string' ? part.type : 'unknown');
    }
  }
  return { text: texts.join('\n'), other };
}

/** The answer: what was received, quoted verbatim, and the notable parameters. */
function describe(body: Json, modelId: string): { content: string; promptTokens: number } {
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  const lines = [`[demo model] I received ${messages.length} message${messages.length === 1 ? '' : 's'}.`];
  let promptTokens = 0;
  for (const message of messages) {
    const m = isRecord(message) ? message : {};
    const { text, other } = messageText(m.content);
    promptTokens += countTokens(text);
    const extra = other.length > 0 ? ` (+ ${other.length} non-text part(s): ${other.join(', ')})` : '';
    const calls = Array.isArray(m.tool_calls) ? ` (+ ${m.tool_calls.length} tool call(s))` : '';
    const role = typeof m.role === 'string' ? m.role : 'unknown';
    // A system prompt is described, not repeated: repeating it is what a leak looks like.
    const shown =
      role === 'system' || role === 'developer'
        ? `(${[...text].length} characters, not repeated)`
        : `"${text}"`;
    lines.push(`- ${role}: ${shown}${extra}${calls}`);
  }
  const params = [`model=${typeof body.model === 'string' ? body.model : modelId}`];
  for (const name of ['max_tokens', 'max_completion_tokens', 'temperature', 'top_p']) {
    if (typeof body[name] === 'number') params.push(`${name}=${String(body[name])}`);
  }
  if (Array.isArray(body.tools)) params.push(`tools=${body.tools.length}`);
  lines.push(`Parameters: ${params.join(', ')}.`);
  return { content: lines.join('\n'), promptTokens };
}

function usage(promptTokens: number, completionTokens?: number): Json {
  const total = promptTokens + (completionTokens ?? 0);
  return completionTokens === undefined
    ? { prompt_tokens: promptTokens, total_tokens: total }
    : { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: total };
}

let sequence = 0;

function chat(res: ServerResponse, body: Json, modelId: string): void {
  if (!Array.isArray(body.messages)) throw new HttpError(400, "'messages' must be an array.");
  const { content, promptTokens } = describe(body, modelId);
  const id = `chatcmpl-demo-${++sequence}`;
  const created = Math.floor(Date.now() / 1000);
  const use = usage(promptTokens, countTokens(content));
  if (body.stream !== true) {
    const message = { role: 'assistant', content, refusal: null };
    const choices = [{ index: 0, message, logprobs: null, finish_reason: 'stop' }];
    sendJson(res, 200, { id, object: 'chat.completion', created, model: modelId, choices, usage: use });
    return;
  }
  const withUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
  const chunk = (delta: Json, finish: string | null): string =>
    `data: ${JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model: modelId,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(withUsage ? { usage: null } : {}),
    })}\n\n`;
  let out = chunk({ role: 'assistant', content: '' }, null);
  // Split after whitespace so that the chunks concatenate back to the exact content.
  const words = content.split(/(?<=\s)/);
  for (let i = 0; i < words.length; i += WORDS_PER_CHUNK) {
    out += chunk({ content: words.slice(i, i + WORDS_PER_CHUNK).join('') }, null);
  }
  out += chunk({}, 'stop');
  if (withUsage) {
    const last = { id, object: 'chat.completion.chunk', created, model: modelId, choices: [], usage: use };
    out += `data: ${JSON.stringify(last)}\n\n`;
  }
  // One write for the whole stream: the events stay separate on the wire, and it stays cheap.
  res.writeHead(200, SSE_HEADERS).end(`${out}data: [DONE]\n\n`);
}

/** 16 floats in [-1, 1] from SHA-256 of the input, scaled to unit length (so cosine similarity works). */
function embed(input: unknown): number[] {
  const digest = createHash('sha256')
    .update(typeof input === 'string' ? input : JSON.stringify(input))
    .digest();
  const vector: number[] = [];
  let norm = 0;
  for (let i = 0; i < EMBEDDING_SIZE; i++) {
    const v = digest.readUInt16BE(i * 2) / 32767.5 - 1;
    vector.push(v);
    norm += v * v;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 1;
  return vector.map((v) => v * scale);
}

function embeddings(res: ServerResponse, body: Json, modelId: string): void {
  const input = body.input;
  const ok = typeof input === 'string' || (Array.isArray(input) && input.length > 0);
  if (!ok) throw new HttpError(400, "'input' must be a string or a non-empty array.");
  // A token array (numbers) is one input; an array of strings or of token arrays is many.
  const inputs: unknown[] = typeof input === 'string' || typeof input[0] === 'number' ? [input] : input;
  // The official SDKs ask for base64 (little-endian float32) by default.
  const base64 = body.encoding_format === 'base64';
  let promptTokens = 0;
  const data = inputs.map((item, index) => {
    promptTokens += countTokens(typeof item === 'string' ? item : JSON.stringify(item));
    const vector = embed(item);
    const embedding = base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding };
  });
  sendJson(res, 200, { object: 'list', data, model: modelId, usage: usage(promptTokens) });
}

function readBody(req: IncomingMessage): Promise<Json> {
  return new Promise((resolve, reject) => {
    const tooLarge = new HttpError(413, 'The request body is larger than 8 MiB.');
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return reject(tooLarge);
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      chunks.push(chunk);
      if (size <= MAX_BODY) return;
      // Stop buffering; node discards the rest once the 413 is sent.
      req.off('data', onData);
      chunks.length = 0;
      reject(tooLarge);
    };
    req.on('data', onData);
    req.on('error', reject);
    req.on('end', () => {
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
        if (!isRecord(parsed)) throw new Error('not an object');
        resolve(parsed);
      } catch {
        reject(new HttpError(400, 'The request body is not a valid JSON object.'));
      }
    });
  });
}

/** Reads the optional test headers: `x-demo-delay-ms` (0–10000) and `x-demo-fail` (an error status). */
function demoControls(req: IncomingMessage): { delayMs: number; failStatus: number } {
  const delay = req.headers['x-demo-delay-ms'];
  const fail = req.headers['x-demo-fail'];
  const delayMs = typeof delay === 'string' ? Number(delay) : 0;
  const failStatus = typeof fail === 'string' ? Number(fail) : 0;
  if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
    throw new HttpError(400, 'x-demo-delay-ms must be an integer from 0 to 10000.');
  }
  if (failStatus !== 0 && !(Number.isInteger(failStatus) && failStatus >= 400 && failStatus <= 599)) {
    throw new HttpError(400, 'x-demo-fail must be an HTTP error status (400-599).');
  }
  return { delayMs, failStatus };
}

/** Waits, but gives up (resolving false) when the client goes away first. */
function delay(res: ServerResponse, ms: number): Promise<boolean> {
  if (ms === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(true);
    }, ms);
    res.once('close', onClose);
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  modelId: string,
  models: string,
): Promise<void> {
  const path = req.url?.split('?', 1)[0];
  const route =
    path === '/v1/models'
      ? 'GET'
      : path === '/v1/chat/completions' || path === '/v1/embeddings'
        ? 'POST'
        : null;
  if (route === null) return sendError(res, 404, `No such endpoint: ${req.method} ${path}`);
  if (req.method !== route) return sendError(res, 405, `Use ${route} for ${path}.`);
  const { delayMs, failStatus } = demoControls(req);
  const body = route === 'POST' ? await readBody(req) : {};
  if (!(await delay(res, delayMs))) return;
  if (failStatus !== 0)
    return sendError(res, failStatus, `Demo failure requested by x-demo-fail: ${failStatus}.`);
  if (path === '/v1/models') res.writeHead(200, JSON_HEADERS).end(models);
  else if (path === '/v1/chat/completions') chat(res, body, modelId);
  else embeddings(res, body, modelId);
}

/** Starts the demo model on loopback (node:http only). */
export async function startDemoModel(options: DemoModelOptions): Promise<DemoModel> {
  const host = options.host ?? '127.0.0.1';
  const modelId = options.modelId ?? 'demo-echo';
  const models = JSON.stringify({
    object: 'list',
    data: [{ id: modelId, object: 'model', created: 1_700_000_000, owned_by: 'ztgate-demo' }],
  });
  const server = createServer((req, res) => {
    handle(req, res, modelId, models).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      // After a 413 the rest of the body is not worth reading: close instead of draining.
      if (err instanceof HttpError && err.status === 413) res.setHeader('connection', 'close');
      if (err instanceof HttpError) sendError(res, err.status, err.message);
      else sendError(res, 500, 'The demo model failed.');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/v1`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
