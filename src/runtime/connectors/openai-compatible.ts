import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
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
  /** The already-resolved secret. */
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
  /** Extra attempts for errors that are safe to retry. */
  readonly retries: number;
  /** A custom CA bundle; when set, ONLY these CAs are trusted. */
  readonly caPem?: string;
  readonly maxConnections: number;
}

type ResponseBody = Dispatcher.ResponseData['body'];

/** How a call is cancelled: `signal` fires on caller abort or deadline; `caller` only on the former. */
interface Scope {
  readonly signal: AbortSignal;
  readonly caller: AbortSignal;
  readonly timedOut: () => boolean;
}

const MAX_SSE_EVENT = 1024 * 1024;
const DRAIN_LIMIT = 64 * 1024;
/** Failures that happen before a single request byte is written: always safe to retry. */
const NOT_SENT_CODES = new Set(
  'ECONNREFUSED ENOTFOUND EAI_AGAIN EHOSTUNREACH ENETUNREACH EADDRNOTAVAIL UND_ERR_CONNECT_TIMEOUT'.split(
    ' ',
  ),
);
const CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
/** Statuses that blame the request itself (the client's doing), not the runtime. */
const REJECTED_STATUSES = new Set([400, 404, 409, 413, 422]);
const noop = (): void => {};

function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return err instanceof Error ? err.name : 'unknown';
}

function isTlsFailure(code: string): boolean {
  return /^ERR_(TLS|SSL)_|CERT|^UNABLE_TO_|SELF_SIGNED/.test(code);
}

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
  const code = errorCode(err);
  const logDetail = `${what}: ${code}`;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new UpstreamError('upstream_timeout', { logDetail, cause: err });
  }
  if (phase === 'request' && (NOT_SENT_CODES.has(code) || isTlsFailure(code))) {
    return new UpstreamError('upstream_unavailable', { logDetail, cause: err, retryable: true });
  }
  if (phase === 'request' && CONNECTION_CODES.has(code)) {
    return new UpstreamError('upstream_unavailable', { logDetail, cause: err });
  }
  return new UpstreamError('upstream_error', { logDetail, cause: err });
}

/** Maps a non-2xx status; the upstream's body is never read into the error. */
function statusError(status: number, what: string): UpstreamError {
  const logDetail = `${what}: status ${status}`;
  if (status === 429) return new UpstreamError('upstream_rate_limited', { logDetail, retryable: true });
  if (REJECTED_STATUSES.has(status)) return new UpstreamError('upstream_rejected', { logDetail });
  const retryable = status === 502 || status === 503 || status === 504;
  return new UpstreamError('upstream_error', { logDetail, retryable });
}

/** Turns whatever a call threw into what the caller must see: AbortError, or an UpstreamError. */
function settle(err: unknown, scope: Scope, phase: 'request' | 'body', what: string): Error {
  if (scope.caller.aborted) return abortError(scope.caller);
  if (err instanceof UpstreamError) return err;
  if (scope.timedOut()) return new UpstreamError('upstream_timeout', { logDetail: `${what}: total timeout` });
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

/** Runs `run` under the caller's signal plus a deadline of `timeoutMs`. */
async function withDeadline<T>(
  caller: AbortSignal,
  timeoutMs: number,
  run: (scope: Scope) => Promise<T>,
): Promise<T> {
  if (caller.aborted) throw abortError(caller);
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = (): void => controller.abort(caller.reason);
  caller.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('total timeout'));
  }, timeoutMs);
  try {
    return await run({ signal: controller.signal, caller, timedOut: () => timedOut });
  } finally {
    clearTimeout(timer);
    caller.removeEventListener('abort', onAbort);
  }
}

/** Waits 50–200 ms (jittered so that retries of many callers spread out), or until the scope aborts. */
async function backoff(scope: Scope, what: string): Promise<void> {
  try {
    await sleep(50 + Math.random() * 150, undefined, { signal: scope.signal });
  } catch (err) {
    throw settle(err, scope, 'request', what);
  }
}

/** The chunks of one SSE answer, read from the body only as fast as the consumer pulls them. */
class ChunkStream implements UpstreamStream {
  #state: 'open' | 'done' | 'cancelled' = 'open';

  constructor(
    private readonly body: ResponseBody,
    private readonly scope: Scope,
  ) {}

  cancel(): void {
    if (this.#state !== 'open') return;
    this.#state = 'cancelled';
    this.body.destroy();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ChatCompletionChunk> {
    const what = 'POST /chat/completions (stream)';
    const parser = new SseParser(MAX_SSE_EVENT);
    // destroyOnReturn false: after [DONE] the rest of the body is drained so the socket is reused.
    const reader = this.body.iterator({ destroyOnReturn: false }) as AsyncIterableIterator<Uint8Array>;
    try {
      for (;;) {
        const next = await reader.next();
        // A server that closes without [DONE] ends the stream too; its complete events still count.
        const events = next.done === true ? parser.end() : parser.pushBytes(next.value);
        for (const event of events) {
          if (event.data === '[DONE]') {
            this.#state = 'done';
            return;
          }
          const chunk = parseJson(event.data, what);
          if (!isRecord(chunk) || !Array.isArray(chunk.choices)) throw invalid(what, 'malformed chunk');
          yield chunk as unknown as ChatCompletionChunk;
          if (this.#state === 'cancelled') return;
        }
        if (next.done === true) break;
      }
      this.#state = 'done';
    } catch (err) {
      if (this.#state === 'cancelled') return;
      if (err instanceof SseParseError) throw invalid(what, 'oversized event', err);
      throw settle(err, this.scope, 'body', what);
    } finally {
      await reader.return?.();
      if (this.#state === 'done') this.body.dump({ limit: DRAIN_LIMIT }).catch(noop);
      else this.cancel();
    }
  }
}

/** Creates a connector for any runtime that speaks the OpenAI HTTP API. */
export function createOpenAiCompatibleConnector(
  id: string,
  options: OpenAiCompatibleOptions,
): UpstreamConnector {
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new Error(`upstream ${id}: baseUrl must be an http or https URL`);
  }
  const basePath = base.pathname.replace(/\/+$/, '');
  // A query in the base URL (Azure's api-version) goes on every request.
  const pathOf = (suffix: string): string => `${basePath}${suffix}${base.search}`;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.extraHeaders ?? {})) headers[name.toLowerCase()] = value;
  if (options.apiKey !== undefined && options.apiKey !== '') {
    // Checked here so that undici never builds an error around the header value.
    if (/[\r\n\0]/.test(options.apiKey))
      throw new Error(`upstream ${id}: apiKey contains forbidden characters`);
    const authHeader = (options.authHeader ?? 'authorization').toLowerCase();
    headers[authHeader] = authHeader === 'authorization' ? `Bearer ${options.apiKey}` : options.apiKey;
  }
  const jsonHeaders = { ...headers, 'content-type': 'application/json', accept: 'application/json' };
  const sseHeaders = { ...headers, 'content-type': 'application/json', accept: 'text/event-stream' };

  const pool = new Pool(base.origin, {
    connections: options.maxConnections,
    connect: { timeout: options.connectTimeoutMs, ...(options.caPem ? { ca: options.caPem } : {}) },
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
  });

  /** One POST attempt; resolves with the body of a 2xx answer. */
  async function post(suffix: string, payload: string, scope: Scope, sse: boolean): Promise<ResponseBody> {
    const what = `POST ${suffix}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await pool.request({
        method: 'POST',
        path: pathOf(suffix),
        headers: sse ? sseHeaders : jsonHeaders,
        body: payload,
        signal: scope.signal,
      });
    } catch (err) {
      throw settle(err, scope, 'request', what);
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return res.body;
    res.body.dump({ limit: DRAIN_LIMIT }).catch(noop);
    throw statusError(res.statusCode, what);
  }

  /** Retries safe failures of `post`; the status is not handed out until an attempt succeeds. */
  async function postWithRetries(
    suffix: string,
    body: unknown,
    scope: Scope,
    sse: boolean,
  ): Promise<ResponseBody> {
    const payload = JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      try {
        return await post(suffix, payload, scope, sse);
      } catch (err) {
        if (!(err instanceof UpstreamError) || !err.retryable || attempt >= options.retries) throw err;
        await backoff(scope, `POST ${suffix}`);
      }
    }
  }

  async function readJson(body: ResponseBody, scope: Scope, what: string): Promise<unknown> {
    let text: string;
    try {
      text = await body.text();
    } catch (err) {
      throw settle(err, scope, 'body', what);
    }
    return parseJson(text, what);
  }

  return {
    id,
    kind: 'openai-compatible',

    chat(body: ChatRequest, call: UpstreamCallOptions): Promise<ChatCompletion> {
      return withDeadline(call.signal, options.totalTimeoutMs, async (scope) => {
        // stream_options is refused by OpenAI unless stream is true.
        const { stream_options: _streamOptions, ...rest } = body;
        const res = await postWithRetries('/chat/completions', { ...rest, stream: false }, scope, false);
        const parsed = await readJson(res, scope, 'POST /chat/completions');
        if (!isRecord(parsed) || !Array.isArray(parsed.choices)) {
          throw invalid('POST /chat/completions', 'malformed completion');
        }
        return parsed as unknown as ChatCompletion;
      });
    },

    async chatStream(body: ChatRequest, call: UpstreamCallOptions): Promise<UpstreamStream> {
      if (call.signal.aborted) throw abortError(call.signal);
      // Streams have no total deadline: headersTimeout bounds the wait, bodyTimeout each gap.
      const scope: Scope = { signal: call.signal, caller: call.signal, timedOut: () => false };
      const res = await postWithRetries('/chat/completions', { ...body, stream: true }, scope, true);
      return new ChunkStream(res, scope);
    },

    embeddings(body: EmbeddingsRequest, call: UpstreamCallOptions): Promise<EmbeddingsResponse> {
      return withDeadline(call.signal, options.totalTimeoutMs, async (scope) => {
        const res = await postWithRetries('/embeddings', body, scope, false);
        const parsed = await readJson(res, scope, 'POST /embeddings');
        if (!isRecord(parsed) || !Array.isArray(parsed.data))
          throw invalid('POST /embeddings', 'malformed response');
        return parsed as unknown as EmbeddingsResponse;
      });
    },

    probe(signal: AbortSignal): Promise<void> {
      return withDeadline(signal, options.totalTimeoutMs, async (scope) => {
        let res: Dispatcher.ResponseData;
        try {
          res = await pool.request({
            method: 'GET',
            path: pathOf('/models'),
            headers: jsonHeaders,
            signal: scope.signal,
          });
        } catch (err) {
          if (scope.caller.aborted) throw abortError(scope.caller);
          throw new UpstreamError('upstream_unavailable', {
            logDetail: `GET /models: ${errorCode(err)}`,
            cause: err,
          });
        }
        res.body.dump({ limit: DRAIN_LIMIT }).catch(noop);
        if (res.statusCode < 200 || res.statusCode >= 300) {
          throw new UpstreamError('upstream_unavailable', {
            logDetail: `GET /models: status ${res.statusCode}`,
          });
        }
      });
    },

    close(): Promise<void> {
      return pool.close();
    },
  };
}
