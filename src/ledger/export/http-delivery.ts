/**
 * POSTing JSON batches to a collector (Splunk HEC, OTLP/HTTP) with retries: the part the two HTTP
 * sinks share. Retries on network failures, 429 and 5xx, waiting at least what Retry-After asks;
 * any other status fails at once. Credentials live only in the request headers.
 * INVARIANT: no error built here holds a header value; server-provided text is scrubbed of the
 * secrets before it is put in a message.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { backoffDelay, checkedBackoff, sleep, type Backoff, type BackoffOptions } from './retry.js';
import { ExportError, type ExportRecord, type ExportSink } from './types.js';

/** Options common to the HTTP sinks. */
export interface HttpSinkOptions {
  /** CA certificate(s), PEM, for an https URL. Default: Node's roots. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate and key (PEM) for mutual TLS. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** An http (not https) URL to a host other than loopback is refused unless this is true. Default false. */
  readonly allowPlaintext?: boolean;
  /** Tries per batch, the first included. Default 5. */
  readonly maxAttempts?: number;
  readonly backoff?: BackoffOptions;
  /** A Retry-After longer than this fails the batch (retryable) instead of waiting. Default 120 s. */
  readonly maxRetryAfterMs?: number;
  /** Time allowed for the response headers, and again for its body. Default 30 s. */
  readonly timeoutMs?: number;
  /** Records per request. Default 100. */
  readonly maxBatchRecords?: number;
  /** Approximate request body size cap; a single larger record is still sent alone. Default 512 KiB. */
  readonly maxBatchBytes?: number;
}

export interface HttpTarget {
  /** Names the service in messages, e.g. "Splunk HEC". */
  readonly label: string;
  readonly url: URL;
  /** Sent with every request; treated as secret. */
  readonly headers: Readonly<Record<string, string>>;
}

/** What a 2xx response body says: nothing (accepted) or why records were refused. */
export type AcceptanceCheck = (status: number, body: string) => string | undefined;

export interface HttpPoster {
  readonly maxBatchRecords: number;
  readonly maxBatchBytes: number;
  post(body: string, accept: AcceptanceCheck): Promise<void>;
  close(): Promise<void>;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const MAX_DETAIL_CHARS = 200;

/** Checks the options (ExportError `invalid_options`) and returns a poster bound to one target. */
export function createHttpPoster(target: HttpTarget, options: HttpSinkOptions): HttpPoster {
  checkUrl(target, options);
  const settings = {
    maxAttempts: positiveInteger(options.maxAttempts ?? 5, 'maxAttempts', target),
    backoff: backoffOption(options.backoff, target),
    maxRetryAfterMs: positiveInteger(options.maxRetryAfterMs ?? 120_000, 'maxRetryAfterMs', target),
    timeoutMs: positiveInteger(options.timeoutMs ?? 30_000, 'timeoutMs', target),
  };
  const agent = new Agent({
    connect: {
      ...(options.ca === undefined ? {} : { ca: options.ca as string | Buffer | (string | Buffer)[] }),
      ...(options.cert === undefined ? {} : { cert: options.cert }),
      ...(options.key === undefined ? {} : { key: options.key }),
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
    },
  });
  return {
    maxBatchRecords: positiveInteger(options.maxBatchRecords ?? 100, 'maxBatchRecords', target),
    maxBatchBytes: positiveInteger(options.maxBatchBytes ?? 512 * 1024, 'maxBatchBytes', target),
    post: (body, accept) => postWithRetries(target, settings, agent, body, accept),
    close: () => agent.close(),
  };
}

interface RetrySettings {
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly maxRetryAfterMs: number;
  readonly timeoutMs: number;
}

async function postWithRetries(
  target: HttpTarget,
  settings: RetrySettings,
  dispatcher: Dispatcher,
  body: string,
  accept: AcceptanceCheck,
): Promise<void> {
  let lastError: ExportError | undefined;
  let retryAfterMs: number | undefined;
  for (let attempt = 0; attempt < settings.maxAttempts; attempt += 1) {
    if (attempt > 0) await sleep(Math.max(backoffDelay(settings.backoff, attempt - 1), retryAfterMs ?? 0));
    const answer = await postOnce(target, settings, dispatcher, body).catch((cause: unknown) => cause);
    if (!isAnswer(answer)) {
      lastError = new ExportError('unavailable', `${target.label} at ${target.url.host} unreachable`, {
        retryable: true,
        cause: answer,
      });
      retryAfterMs = undefined;
      continue;
    }
    if (answer.status >= 200 && answer.status < 300) {
      const refusal = accept(answer.status, answer.body);
      if (refusal === undefined) return;
      throw new ExportError('rejected', `${target.label} refused records: ${scrub(refusal, target)}`, {
        status: answer.status,
      });
    }
    lastError = statusError(target, answer);
    retryAfterMs = answer.retryAfterMs;
    if (!lastError.retryable || (retryAfterMs ?? 0) > settings.maxRetryAfterMs) throw lastError;
  }
  throw lastError ?? new ExportError('unavailable', `${target.label} was not tried`);
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly retryAfterMs: number | undefined;
}

async function postOnce(
  target: HttpTarget,
  settings: RetrySettings,
  dispatcher: Dispatcher,
  body: string,
): Promise<Answer> {
  const response = await request(target.url, {
    method: 'POST',
    headers: { ...target.headers, 'content-type': 'application/json' },
    body,
    dispatcher,
    headersTimeout: settings.timeoutMs,
    bodyTimeout: settings.timeoutMs,
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    body: text,
    retryAfterMs: parseRetryAfter(response.headers['retry-after']),
  };
}

function isAnswer(value: unknown): value is Answer {
  return typeof value === 'object' && value !== null && 'status' in value && 'body' in value;
}

function statusError(target: HttpTarget, answer: Answer): ExportError {
  const retryable = answer.status === 429 || answer.status >= 500;
  const detail = responseDetail(answer.body, target);
  return new ExportError(
    'http_status',
    `${target.label} answered HTTP ${answer.status}${detail ? `: ${detail}` : ''}`,
    { status: answer.status, retryable },
  );
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms; undefined if absent or bad. */
export function parseRetryAfter(
  header: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A short description from the server's error body (HEC `text`/`code`, OTLP Status `message`). */
function responseDetail(body: string, target: HttpTarget): string {
  let detail = body;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null) {
      const { text, message, code } = parsed as Record<string, unknown>;
      const words = [text, message].filter((w): w is string => typeof w === 'string');
      if (typeof code === 'number') words.push(`(code ${code})`);
      detail = words.join(' ');
    }
  } catch {
    // Not JSON: keep the raw text, cut and scrubbed below.
  }
  return scrub(detail.replace(/\s+/g, ' ').trim(), target).slice(0, MAX_DETAIL_CHARS);
}

/** Removes every header value from text a server sent back (a proxy may echo the request). */
function scrub(text: string, target: HttpTarget): string {
  let clean = text;
  for (const value of Object.values(target.headers)) {
    for (const secret of [value, ...value.split(/\s+/).filter((part) => part.length >= 8)]) {
      if (secret) clean = clean.replaceAll(secret, '[redacted]');
    }
  }
  return clean;
}

function checkUrl(target: HttpTarget, options: HttpSinkOptions): void {
  const { protocol, hostname } = target.url;
  if (protocol !== 'https:' && protocol !== 'http:') {
    throw new ExportError('invalid_options', `${target.label} URL must be http or https`);
  }
  if (protocol === 'http:' && !LOOPBACK_HOSTS.has(hostname) && options.allowPlaintext !== true) {
    throw new ExportError('invalid_options', `${target.label} over plain http needs allowPlaintext: true`);
  }
  if (target.url.username || target.url.password) {
    throw new ExportError('invalid_options', `${target.label} URL must not carry credentials`);
  }
}

function positiveInteger(value: number, name: string, target: HttpTarget): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ExportError('invalid_options', `${target.label} ${name} must be a positive integer`);
  }
  return value;
}

function backoffOption(options: BackoffOptions | undefined, target: HttpTarget): Backoff {
  try {
    return checkedBackoff(options);
  } catch (err) {
    throw new ExportError('invalid_options', `${target.label} backoff is invalid`, { cause: err });
  }
}

/** Splits items into runs of at most maxItems and about maxBytes (an oversized item goes alone). */
export function splitBatches<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  maxItems: number,
  maxBytes: number,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** `path` under the base URL's path, so that a base with a prefix (behind a proxy) keeps it. */
export function endpointUrl(base: string | URL, path: string, label: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch (err) {
    throw new ExportError('invalid_options', `${label} URL is not a URL`, { cause: err });
  }
  if (url.search || url.hash) throw new ExportError('invalid_options', `${label} URL must be a base URL`);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return new URL(path, url);
}

export interface BatchingSinkParts<T> {
  readonly label: string;
  readonly poster: HttpPoster;
  /** One record in the wire form; throws ExportError `invalid_record`. */
  readonly encode: (record: ExportRecord) => T;
  readonly sizeOf: (item: T) => number;
  readonly requestBody: (batch: readonly T[]) => string;
  readonly accept: AcceptanceCheck;
}

/**
 * An ExportSink that encodes a whole write first (a bad record refuses it before anything is sent),
 * then posts it in batches, one after another, in order.
 */
export function createBatchingSink<T>(parts: BatchingSinkParts<T>): ExportSink {
  const inFlight = new Set<Promise<void>>();
  let closed = false;
  const send = async (records: readonly ExportRecord[]): Promise<void> => {
    const items = records.map(parts.encode);
    const { maxBatchRecords, maxBatchBytes } = parts.poster;
    for (const batch of splitBatches(items, parts.sizeOf, maxBatchRecords, maxBatchBytes)) {
      await parts.poster.post(parts.requestBody(batch), parts.accept);
    }
  };
  return {
    async write(records) {
      if (closed) throw new ExportError('closed', `the ${parts.label} sink is closed`);
      if (records.length === 0) return;
      const delivery = send(records);
      inFlight.add(delivery);
      try {
        await delivery;
      } finally {
        inFlight.delete(delivery);
      }
    },
    async close() {
      closed = true;
      await Promise.allSettled([...inFlight]);
      await parts.poster.close();
    },
  };
}
