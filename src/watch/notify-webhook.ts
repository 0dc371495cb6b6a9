/**
 * Incident notices leaving ztgate (issue 9): the notice, notifier and error types every notifier
 * shares, and the webhook notifier, which signs each POST the Standard Webhooks way
 * (https://www.standardwebhooks.com/):
 *
 *   webhook-id: msg_<32 hex>             (the same on every retry of one notice)
 *   webhook-timestamp: <unix seconds>    (of the attempt)
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>
 *
 * The key is the base64-decoded remainder of a `whsec_<base64>` secret, or the UTF-8 bytes of any
 * other secret. notify-syslog.ts holds the syslog notifier; notify.ts builds notifiers from config.
 * INVARIANT: a notice carries ids, names and a reason, never prompt or answer text; no message or
 * cause built here holds the secret, a signature, a URL's path or query, or the server's answer.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  backoffDelay,
  checkedBackoff,
  sleep,
  type Backoff,
  type BackoffOptions,
} from '../ledger/export/retry.js';

export const INCIDENT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type IncidentSeverity = (typeof INCIDENT_SEVERITIES)[number];

export interface IncidentNotice {
  readonly incidentId: string;
  readonly playbookId: string;
  readonly severity: IncidentSeverity;
  readonly subject: { readonly kind: string; readonly id: string };
  readonly actions: readonly string[];
  /** Request ids of the ledger entries that triggered the incident. */
  readonly evidence: readonly string[];
  readonly reason: string;
  /** ISO 8601 with an explicit offset. */
  readonly time: string;
}

export interface Notifier {
  /** Names the destination in errors and logs: scheme and host only, never a path or a secret. */
  readonly label: string;
  notify(event: IncidentNotice): Promise<void>;
}

export type NotifyErrorCode =
  /** A notifier was given options it cannot work with (a start-up error). */
  | 'invalid_options'
  /** The notice is malformed or does not fit the destination's format. */
  | 'invalid_notice'
  /** The webhook answered with a status other than 2xx; see `status`. */
  | 'http_status'
  /** No answer (or no connection) within the time allowed. */
  | 'timeout'
  /** The destination could not be reached. */
  | 'unavailable';

export class NotifyError extends Error {
  readonly code: NotifyErrorCode;
  readonly status: number | undefined;
  /** True when the same notice may succeed later (5xx, timeout, network failure). */
  readonly retryable: boolean;

  constructor(
    code: NotifyErrorCode,
    message: string,
    options: { readonly status?: number; readonly retryable?: boolean; readonly cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NotifyError';
    this.code = code;
    this.status = options.status;
    this.retryable = options.retryable ?? false;
  }
}

/** The notice as plain JSON, fields in a fixed order. */
export interface NoticeData {
  readonly incidentId: string;
  readonly playbookId: string;
  readonly severity: IncidentSeverity;
  readonly subject: { readonly kind: string; readonly id: string };
  readonly actions: readonly string[];
  readonly evidence: readonly string[];
  readonly reason: string;
  readonly time: string;
}

const ISO_WITH_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

/**
 * Copies the notice field by field (so nothing else a caller's object carries leaves the process),
 * checking each; throws NotifyError `invalid_notice`.
 */
export function noticeData(notice: IncidentNotice): NoticeData {
  const text = (value: unknown, name: string): string => {
    if (typeof value !== 'string' || value === '') {
      throw new NotifyError('invalid_notice', `incident notice ${name} must be a non-empty string`);
    }
    return value;
  };
  const list = (value: unknown, name: string): string[] => {
    if (!Array.isArray(value))
      throw new NotifyError('invalid_notice', `incident notice ${name} must be a list`);
    return value.map((item, i) => text(item, `${name}[${i}]`));
  };
  if (typeof notice !== 'object' || notice === null) {
    throw new NotifyError('invalid_notice', 'incident notice must be an object');
  }
  if (!INCIDENT_SEVERITIES.includes(notice.severity)) {
    throw new NotifyError('invalid_notice', `incident notice severity must be one of ${INCIDENT_SEVERITIES}`);
  }
  const time = text(notice.time, 'time');
  if (!ISO_WITH_OFFSET.test(time) || !Number.isFinite(Date.parse(time))) {
    throw new NotifyError('invalid_notice', 'incident notice time must be ISO 8601 with an offset');
  }
  const subject: unknown = notice.subject;
  if (typeof subject !== 'object' || subject === null) {
    throw new NotifyError('invalid_notice', 'incident notice subject must be an object');
  }
  const { kind, id } = subject as Record<string, unknown>;
  const reason: unknown = notice.reason;
  if (typeof reason !== 'string')
    throw new NotifyError('invalid_notice', 'incident notice reason must be a string');
  return {
    incidentId: text(notice.incidentId, 'incidentId'),
    playbookId: text(notice.playbookId, 'playbookId'),
    severity: notice.severity,
    subject: { kind: text(kind, 'subject.kind'), id: text(id, 'subject.id') },
    actions: list(notice.actions, 'actions'),
    evidence: list(notice.evidence, 'evidence'),
    reason,
    time,
  };
}

export const WEBHOOK_EVENT_TYPE = 'ztgate.incident';

/** The POST body: `{"type":"ztgate.incident","timestamp":<notice time>,"data":<NoticeData>}`. */
export function webhookBody(notice: IncidentNotice): string {
  const data = noticeData(notice);
  return JSON.stringify({ type: WEBHOOK_EVENT_TYPE, timestamp: data.time, data });
}

const WHSEC_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MIN_KEY_BYTES = 16;

/** The HMAC key of a secret; throws NotifyError `invalid_options` (without the secret). */
export function webhookSecretKey(secret: string): Buffer {
  if (typeof secret !== 'string' || secret === '') {
    throw new NotifyError('invalid_options', 'webhook secret is missing');
  }
  let key: Buffer;
  if (secret.startsWith(WHSEC_PREFIX)) {
    const encoded = secret.slice(WHSEC_PREFIX.length);
    if (!BASE64.test(encoded)) {
      throw new NotifyError(
        'invalid_options',
        'webhook secret starts with whsec_ but the rest is not base64',
      );
    }
    key = Buffer.from(encoded, 'base64');
  } else {
    key = Buffer.from(secret, 'utf8');
  }
  if (key.length < MIN_KEY_BYTES) {
    throw new NotifyError('invalid_options', `webhook secret must hold at least ${MIN_KEY_BYTES} bytes`);
  }
  return key;
}

/** `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`. */
export function signWebhook(
  secret: string | Buffer,
  id: string,
  timestamp: number | string,
  body: string | Buffer,
): string {
  const key = typeof secret === 'string' ? webhookSecretKey(secret) : secret;
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

export type WebhookHeaders =
  { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface VerifyWebhookOptions {
  /** Largest distance between webhook-timestamp and now, either way. Default 300 s. */
  readonly toleranceSeconds?: number;
  /** Now, in epoch milliseconds. Default Date.now(). */
  readonly now?: number;
}

/**
 * True when `body` (the raw bytes as received) carries a valid Standard Webhooks signature by
 * `secret`, with a webhook-timestamp within the tolerance. Any of several space-separated
 * signatures may match; comparison is constant-time. Throws only for an unusable secret.
 */
export function verifyWebhookSignature(
  secret: string,
  headers: WebhookHeaders,
  body: string | Buffer,
  options: VerifyWebhookOptions = {},
): boolean {
  const key = webhookSecretKey(secret);
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures || !/^\d{1,15}$/.test(timestamp)) return false;
  const toleranceSeconds = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (!(Math.abs(nowSeconds - Number(timestamp)) <= toleranceSeconds)) return false;
  const expected = Buffer.from(signWebhook(key, id, timestamp, body).slice(3), 'base64');
  let valid = false;
  for (const candidate of signatures.split(' ')) {
    if (!candidate.startsWith('v1,')) continue;
    const given = Buffer.from(candidate.slice(3), 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
  }
  return valid;
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function')
    return (headers.get as (n: string) => string | null)(name) ?? undefined;
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(' ') : (value as string | undefined);
}

export interface WebhookNotifierOptions {
  readonly url: string;
  /** `whsec_<base64>` (Standard Webhooks form) or a raw secret of at least 16 bytes. */
  readonly secret: string;
  /** Time allowed for each attempt, answer included. Default 10 s. */
  readonly timeoutMs?: number;
  /** Attempts after the first on a 5xx, timeout or network failure. Default 3. */
  readonly retries?: number;
  /** Default 500 ms doubling to 30 s, with jitter. */
  readonly backoff?: BackoffOptions;
  /** Default: the global fetch. */
  readonly fetch?: typeof fetch;
  /** An http (not https) URL to a host other than loopback is refused unless this is true. */
  readonly allowPlaintext?: boolean;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Checks the options (NotifyError `invalid_options`) and returns a webhook notifier. */
export function webhookNotifier(options: WebhookNotifierOptions): Notifier {
  const url = checkedUrl(options);
  const key = webhookSecretKey(options.secret);
  const timeoutMs = checkedInteger(options.timeoutMs ?? 10_000, 1, 'timeoutMs');
  const retries = checkedInteger(options.retries ?? 3, 0, 'retries');
  let backoff: Backoff;
  try {
    backoff = checkedBackoff(options.backoff ?? { initialDelayMs: 500, maxDelayMs: 30_000 });
  } catch (err) {
    throw new NotifyError('invalid_options', 'webhook backoff is invalid', { cause: err });
  }
  const doFetch = options.fetch ?? globalThis.fetch;
  const label = `webhook ${url.protocol}//${url.host}`;
  const attempt = async (id: string, body: string): Promise<NotifyError | undefined> => {
    const timestamp = Math.floor(Date.now() / 1000);
    let status: number;
    try {
      const response = await doFetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(key, id, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      await response.body?.cancel().catch(() => undefined);
    } catch (err) {
      return (err as Error | undefined)?.name === 'TimeoutError'
        ? new NotifyError('timeout', `${label} did not answer within ${timeoutMs} ms`, { retryable: true })
        : new NotifyError('unavailable', `${label} unreachable`, { retryable: true, cause: err });
    }
    if (status >= 200 && status < 300) return undefined;
    return new NotifyError('http_status', `${label} answered HTTP ${status}`, {
      status,
      retryable: status >= 500,
    });
  };
  return {
    label,
    async notify(notice) {
      const body = webhookBody(notice);
      const id = `msg_${randomUUID().replaceAll('-', '')}`;
      let failure: NotifyError | undefined;
      for (let n = 0; n <= retries; n += 1) {
        if (n > 0) await sleep(backoffDelay(backoff, n - 1));
        failure = await attempt(id, body);
        if (failure === undefined) return;
        if (!failure.retryable) throw failure;
      }
      throw failure ?? new NotifyError('unavailable', `${label} was not tried`);
    },
  };
}

function checkedUrl(options: WebhookNotifierOptions): URL {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new NotifyError('invalid_options', 'webhook url is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new NotifyError('invalid_options', 'webhook url must be http or https');
  }
  if (url.username !== '' || url.password !== '') {
    throw new NotifyError('invalid_options', 'webhook url must not hold credentials');
  }
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname) && options.allowPlaintext !== true) {
    throw new NotifyError(
      'invalid_options',
      'a plain http webhook to a remote host needs allowPlaintext: true',
    );
  }
  return url;
}

function checkedInteger(value: number, min: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new NotifyError('invalid_options', `webhook ${name} must be an integer >= ${min}`);
  }
  return value;
}
