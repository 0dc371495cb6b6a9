import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Agent, request, type Dispatcher } from 'undici';

/** Hop-by-hop headers (RFC 9110 7.6.1) and what the agent sets itself: never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

function forwardable(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    out[lower] = value;
  }
  return out;
}

/**
 * Where a request path goes on the model server. `--upstream` is the server's OpenAI base URL
 * (`http://127.0.0.1:8000/v1`, as in the gateway's `baseUrl`): `/v1/chat/completions` goes to
 * `<base>/chat/completions`. With a base that does not end in `/v1`, the path is appended whole.
 */
export function upstreamUrl(base: URL, path: string): URL {
  const basePath = base.pathname.replace(/\/+$/, '');
  const rest = basePath.endsWith('/v1') && (path === '/v1' || path.startsWith('/v1/')) ? path.slice(3) : path;
  const target = new URL(base.origin);
  const query = rest.indexOf('?');
  target.pathname = `${basePath}${query === -1 ? rest : rest.slice(0, query)}`;
  if (query !== -1) target.search = rest.slice(query);
  return target;
}

export interface Forwarder {
  /** Forwards `req` and streams the answer into `res`; resolves when done (or failed: answered 502). */
  forward(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export interface ForwarderOptions {
  readonly upstream: URL;
  readonly connectTimeoutMs?: number;
  /** Time to the answer's headers (default 300 s: a long prompt on a busy model). */
  readonly headersTimeoutMs?: number;
  /** Longest silence within an answer (default 300 s). */
  readonly bodyTimeoutMs?: number;
  readonly onError?: (err: unknown) => void;
}

/**
 * Forwards requests to the model server with undici, streaming both ways: the request body is
 * piped to the model server as it arrives, and the answer (SSE included) is piped back chunk by
 * chunk with back-pressure (a slow client slows the read from the model server; nothing is
 * buffered whole). A client that goes away aborts the upstream request.
 */
export function createForwarder(options: ForwarderOptions): Forwarder {
  const dispatcher: Dispatcher = new Agent({
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    headersTimeout: options.headersTimeoutMs ?? 300_000,
    bodyTimeout: options.bodyTimeoutMs ?? 300_000,
  });
  return {
    async forward(req, res, signal) {
      const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
      const hasBody = method !== 'GET' && method !== 'HEAD';
      let answer: Dispatcher.ResponseData;
      try {
        answer = await request(upstreamUrl(options.upstream, req.url ?? '/'), {
          method,
          headers: forwardable(req.headers),
          ...(hasBody ? { body: req } : {}),
          dispatcher,
          signal,
        });
      } catch (err) {
        options.onError?.(err);
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              error: {
                message: 'The model server is unavailable.',
                type: 'api_error',
                code: 'upstream_unavailable',
                param: null,
              },
            }),
          );
        }
        return;
      }
      res.writeHead(answer.statusCode, forwardable(answer.headers));
      // Each chunk is written as it arrives; SSE needs the headers now, not with the first chunk.
      res.flushHeaders();
      try {
        await pipeline(answer.body, res);
      } catch (err) {
        options.onError?.(err);
        answer.body.destroy();
        res.destroy();
      }
    },
    close: () => dispatcher.close(),
  };
}
