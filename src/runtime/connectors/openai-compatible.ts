import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, type buildConnector, type Dispatcher } from 'undici';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../../core/api.js';
import { UpstreamError } from '../../core/errors.js';
import type { UpstreamCallOptions, UpstreamConnector, UpstreamStream } from '../../core/upstream.js';
import { SseParseError, SseParser } from './sse.js';

/** Settings of one OpenAI-compatible upstream (OpenAI, Azure OpenAI, vLLM, Ollama, the demo model…). */
export interface OpenAiCompatibleOptions {
  /** For example `https://api.openai.com/v1`; `/chat/completions`, `/embeddings`, `/models` are appended. */
  readonly baseUrl: string;
  /** The already-resolved secret value. */
  readonly apiKey?: string;
  /** Default `authorization` (sends `Bearer <key>`); any other name (e.g. Azure's `api-key`) sends the raw key. */
  readonly authHeader?: string;
  readonly extraHeaders?: Readonly<Record<string, string>>;
  readonly connectTimeoutMs: number;
  /** Time to the first response byte. */
  readonly headersTimeoutMs: number;
  /** Longest idle time between two body chunks. */
  readonly bodyTimeoutMs: number;
  /** Deadline of a whole non-streaming call, retries included. */
  readonly totalTimeoutMs: number;
  readonly retries: number;
  /** A custom CA bundle; when set, ONLY these CAs are trusted. */
  readonly caPem?: string;
  readonly maxConnections: number;
  /**
   * A custom connector for mutual TLS (src/mesh): it presents the gateway's client certificate,
   * verifies the server's chain and SPIFFE ID, and owns the connect timeout. When set, caPem is
   * not used.
   */
  readonly connect?: buildConnector.connector;
}

type Reply = Dispatcher.ResponseData['body'];

/** `signal` fires on the caller's abort or the deadline; `caller` only on the former. */
interface Scope {
  readonly signal: AbortSignal;
  readonly caller: AbortSignal;
}

const DRAIN_LIMIT = 64 * 1024;
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
/** Failures that happen before a single request byte is written (connect, DNS, TLS): safe to retry. */
const NOT_SENT =
  /^(E(CONNREFUSED|NOTFOUND|AI_AGAIN|HOSTUNREACH|NETUNREACH|ADDRNOTAVAIL)|UND_ERR_CONNECT_TIMEOUT)$/;
// Includes the mesh's peer-check codes (a server whose SPIFFE ID is not allowed, revoked, …).
const TLS_FAILURE =
  /^ERR_(TLS|SSL)_|CERT|^UNABLE_TO_|SELF_SIGNED|^peer_|^certificate_revoked$|^spiffe_id_invalid$/;
const CONNECTION_LOST = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const REJECTED = new Set([400, 404, 409, 413, 422]);
const noop = (): void => {};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('The upstream call was aborted by the caller.', { cause: signal.reason });
  err.name = 'AbortError';
  return err;
}

/** Maps a transport failure; only the error code goes into logDetail (messages may carry addresses). */
function transportError(err: unknown, phase: 'request' | 'body', what: string): UpstreamError {
  const raw = isRecord(err) ? err.code : undefined;
  const code = typeof raw === 'string' ? raw : err instanceof Error ? err.name : 'unknown';
  const logDetail = `${what}: ${code}`;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new UpstreamError('upstream_timeout', { logDetail, cause: err });
  }
  if (phase === 'request' && (NOT_SENT.test(code) || TLS_FAILURE.test(code))) {
    return new UpstreamError('upstream_unavailable', { logDetail, cause: err, retryable: true });
  }
  if (phase === 'request' && CONNECTION_LOST.has(code)) {
    return new UpstreamError('upstream_unavailable', { logDetail, cause: err });
  }
  return new UpstreamError('upstream_error', { logDetail, cause: err });
}

/** Maps a non-2xx status (REJECTED: the request's fault); the upstream's body never goes into the error. */
function statusError(status: number, what: string): UpstreamError {
  const logDetail = `${what}: status ${status}`;
  if (status === 429) return new UpstreamError('upstream_rate_limited', { logDetail, retryable: true });
  if (REJECTED.has(status)) return new UpstreamError('upstream_rejected', { logDetail });
  const retryable = status === 502 || status === 503 || status === 504;
  return new UpstreamError('upstream_error', { logDetail, retryable });
}

/** Turns whatever a call threw into what the caller must see: an AbortError or an UpstreamError. */
function settle(err: unknown, scope: Scope, phase: 'request' | 'body', what: string): Error {
  if (scope.caller.aborted) return abortError(scope.caller);
  if (err instanceof UpstreamError) return err;
  if (scope.signal.aborted)
    return new UpstreamError('upstream_timeout', { logDetail: `${what}: total timeout` });
  return transportError(err, phase, what);
}

function invalid(what: string, detail: string, cause?: unknown): UpstreamError {
  return new UpstreamError('upstream_error', { logDetail: `${what}: ${detail}`, cause });
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalid(what, 'invalid JSON');
  }
}

/** Runs `run` under the caller's signal plus a deadline of `ms`. */
async function withDeadline<T>(
  caller: AbortSignal,
  ms: number,
  run: (scope: Scope) => Promise<T>,
): Promise<T> {
  if (caller.aborted) throw abortError(caller);
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(caller.reason);
  caller.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new Error('total timeout')), ms);
  try {
    return await run({ signal: controller.signal, caller });
  } finally {
    clearTimeout(timer);
    caller.removeEventListener('abort', onAbort);
  }
}

/** The chunks of one SSE answer, read from the body only as fast as the consumer pulls them. */
function chunkStream(body: Reply, scope: Scope): UpstreamStream {
  let state: 'open' | 'done' | 'cancelled' = 'open';
  // undici turns destroy() into an 'error' event; unobserved, it would crash the process.
  body.on('error', noop);
  const cancel = (): void => {
    if (state !== 'open') return;
    state = 'cancelled';
    body.destroy();
  };
  return {
    cancel,
    async *[Symbol.asyncIterator](): AsyncGenerator<ChatCompletionChunk> {
      const what = 'POST /chat/completions (stream)';
      const parser = new SseParser(); // its default bound: 1 MiB per event
      // destroyOnReturn false: after [DONE] the rest of the body is drained so the socket is reused.
      const reader = body.iterator({ destroyOnReturn: false }) as AsyncIterableIterator<Uint8Array>;
      try {
        for (;;) {
          const next = await reader.next();
          // A server that closes without [DONE] ends the stream too; its complete events still count.
          const events = next.done === true ? parser.end() : parser.pushBytes(next.value);
          for (const event of events) {
            if (event.data === '[DONE]') {
              state = 'done';
              return;
            }
            const chunk = parseJson(event.data, what);
            if (!isRecord(chunk) || !Array.isArray(chunk.choices)) throw invalid(what, 'no choices array');
            yield chunk as ChatCompletionChunk;
            if (state === 'cancelled') return;
          }
          if (next.done === true) break;
        }
        state = 'done';
      } catch (err) {
        if (state === 'cancelled') return;
        if (err instanceof SseParseError) throw invalid(what, 'oversized event', err);
        throw settle(err, scope, 'body', what);
      } finally {
        await reader.return?.();
        if (state === 'done') body.dump({ limit: DRAIN_LIMIT }).catch(noop);
        else cancel();
      }
    },
  };
}

/** Creates a connector for any runtime that speaks the OpenAI HTTP API. */
export function createOpenAiCompatibleConnector(
  id: string,
  opts: OpenAiCompatibleOptions,
): UpstreamConnector {
  const base = new URL(opts.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new Error(`upstream ${id}: baseUrl must be an http or https URL`);
  }
  const basePath = base.pathname.replace(/\/+$/, '');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [name, value] of Object.entries(opts.extraHeaders ?? {})) headers[name.toLowerCase()] = value;
  if (opts.apiKey !== undefined && opts.apiKey !== '') {
    // Checked here so that undici never builds an error around the header value.
    if (/[\r\n\0]/.test(opts.apiKey)) throw new Error(`upstream ${id}: apiKey has forbidden characters`);
    const name = (opts.authHeader ?? 'authorization').toLowerCase();
    headers[name] = name === 'authorization' ? `Bearer ${opts.apiKey}` : opts.apiKey;
  }
  const jsonHeaders = { ...headers, accept: 'application/json' };
  const sseHeaders = { ...headers, accept: 'text/event-stream' };
  const pool = new Pool(base.origin, {
    connections: opts.maxConnections,
    connect: opts.connect ?? { timeout: opts.connectTimeoutMs, ...(opts.caPem ? { ca: opts.caPem } : {}) },
    headersTimeout: opts.headersTimeoutMs,
    bodyTimeout: opts.bodyTimeoutMs,
    // Bounds memory against a runaway upstream (whole answers and whole streams alike).
    maxResponseSize: MAX_RESPONSE_BYTES,
  });

  /** One attempt; resolves with the body of a 2xx answer. A query in the base URL (Azure's api-version) is kept. */
  async function send(path: string, payload: string | null, scope: Scope, sse = false): Promise<Reply> {
    const what = `${payload === null ? 'GET' : 'POST'} ${path}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await pool.request({
        method: payload === null ? 'GET' : 'POST',
        path: `${basePath}${path}${base.search}`,
        headers: sse ? sseHeaders : jsonHeaders,
        body: payload,
        signal: scope.signal,
      });
    } catch (err) {
      throw settle(err, scope, 'request', what);
    }
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    // A runtime that ignored stream:true would otherwise look like an empty stream.
    if (ok && (!sse || /^text\/event-stream/i.test(String(res.headers['content-type'])))) return res.body;
    res.body.dump({ limit: DRAIN_LIMIT }).catch(noop);
    throw ok ? invalid(what, 'not an event stream') : statusError(res.statusCode, what);
  }

  /** Retries safe failures of `send`; the status is not handed out until an attempt succeeds. */
  async function post(path: string, body: unknown, scope: Scope, sse = false): Promise<Reply> {
    const payload = JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      try {
        return await send(path, payload, scope, sse);
      } catch (err) {
        if (!(err instanceof UpstreamError) || !err.retryable || attempt >= opts.retries) throw err;
        try {
          // 50–200 ms, jittered so that the retries of many callers spread out.
          await sleep(50 + Math.random() * 150, undefined, { signal: scope.signal });
        } catch (e) {
          throw settle(e, scope, 'request', `POST ${path}`);
        }
      }
    }
  }

  /** A non-streaming POST under the total deadline, answered by a JSON object with an array `field`. */
  function postJson(path: string, body: unknown, call: UpstreamCallOptions, field: string): Promise<unknown> {
    const what = `POST ${path}`;
    return withDeadline(call.signal, opts.totalTimeoutMs, async (scope) => {
      const res = await post(path, body, scope);
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        throw settle(err, scope, 'body', what);
      }
      const parsed = parseJson(text, what);
      if (!isRecord(parsed) || !Array.isArray(parsed[field])) throw invalid(what, `no ${field} array`);
      return parsed;
    });
  }

  return {
    id,
    kind: 'openai-compatible',

    async chat(body: ChatRequest, call: UpstreamCallOptions): Promise<ChatCompletion> {
      // OpenAI refuses stream_options unless stream is true.
      const { stream_options: _streamOptions, ...rest } = body;
      const completion = await postJson('/chat/completions', { ...rest, stream: false }, call, 'choices');
      return completion as ChatCompletion;
    },

    async chatStream(body: ChatRequest, call: UpstreamCallOptions): Promise<UpstreamStream> {
      // Streams have no total deadline: headersTimeout bounds the wait, bodyTimeout each gap.
      const scope: Scope = { signal: call.signal, caller: call.signal };
      return chunkStream(await post('/chat/completions', { ...body, stream: true }, scope, true), scope);
    },

    async embeddings(body: EmbeddingsRequest, call: UpstreamCallOptions): Promise<EmbeddingsResponse> {
      return (await postJson('/embeddings', body, call, 'data')) as EmbeddingsResponse;
    },

    probe(signal: AbortSignal): Promise<void> {
      return withDeadline(signal, opts.totalTimeoutMs, async (scope) => {
        try {
          (await send('/models', null, scope)).dump({ limit: DRAIN_LIMIT }).catch(noop);
        } catch (err) {
          if (!(err instanceof UpstreamError)) throw err;
          // Not ready, whatever the reason; the sanitized detail says which.
          throw new UpstreamError('upstream_unavailable', { logDetail: err.logDetail, cause: err });
        }
      });
    },

    close(): Promise<void> {
      return pool.close();
    },
  };
}
