/**
 * A sink for Splunk's HTTP Event Collector: `POST <url>/services/collector/event` with
 * `Authorization: Splunk <token>` and a body of concatenated JSON event objects
 * `{"time","host","source","sourcetype","index","event"}`; HEC answers `{"text":"Success","code":0}`.
 */
import { hostname as osHostname } from 'node:os';
import { createBatchingSink, createHttpPoster, endpointUrl, type HttpSinkOptions } from './http-delivery.js';
import {
  canonicalEntryJson,
  ExportError,
  recordTimeMs,
  type ExportRecord,
  type ExportSink,
} from './types.js';

export interface SplunkHecOptions extends HttpSinkOptions {
  /** The HEC base URL, e.g. `https://splunk.example:8088`; events go to `/services/collector/event` under it. */
  readonly url: string | URL;
  /** The HEC token. Sent in the Authorization header only; never logged or put in an error. */
  readonly token: string;
  /** The `host` of every event. Default: os.hostname(). */
  readonly host?: string;
  /** Default `ztgate`. */
  readonly source?: string;
  /** Default `ztgate:audit`. */
  readonly sourcetype?: string;
  /** The Splunk index; left out by default, so the token's default index applies. */
  readonly index?: string;
  /** A GUID sent as X-Splunk-Request-Channel; HEC requires one when indexer acknowledgement is on. */
  readonly channel?: string;
}

/** The HEC event envelope for one record. */
export interface HecEvent {
  readonly time: number;
  readonly host: string;
  readonly source: string;
  readonly sourcetype: string;
  readonly index?: string;
  readonly event: {
    readonly ledgerIndex: number;
    readonly leafHash: string;
    readonly outcome: string;
    readonly principal?: string;
    readonly summary: string;
    readonly entry: unknown;
    readonly proof?: ExportRecord['proof'];
  };
}

export type HecMetadata = Pick<HecEvent, 'host' | 'source' | 'sourcetype' | 'index'>;

const LABEL = 'Splunk HEC';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks the options (ExportError `invalid_options`) and returns the sink. */
export function createSplunkHecSink(options: SplunkHecOptions): ExportSink {
  const headers: Record<string, string> = { authorization: `Splunk ${checkedToken(options.token)}` };
  if (options.channel !== undefined) {
    if (!GUID.test(options.channel))
      throw new ExportError('invalid_options', `${LABEL} channel must be a GUID`);
    headers['x-splunk-request-channel'] = options.channel;
  }
  const url = endpointUrl(options.url, 'services/collector/event', LABEL);
  const metadata: HecMetadata = {
    host: options.host ?? osHostname(),
    source: options.source ?? 'ztgate',
    sourcetype: options.sourcetype ?? 'ztgate:audit',
    ...(options.index === undefined ? {} : { index: options.index }),
  };
  return createBatchingSink({
    label: LABEL,
    poster: createHttpPoster({ label: LABEL, url, headers }, options),
    encode: (record) => JSON.stringify(hecEvent(record, metadata)),
    sizeOf: (json) => Buffer.byteLength(json, 'utf8') + 1,
    requestBody: (events) => events.join('\n'),
    accept: acceptHecResponse,
  });
}

/** The HEC event for a record; `time` is epoch seconds with millisecond decimals, as HEC takes it. */
export function hecEvent(record: ExportRecord, metadata: HecMetadata): HecEvent {
  const time = recordTimeMs(record) / 1000;
  const entry: unknown = JSON.parse(canonicalEntryJson(record));
  return {
    time,
    ...metadata,
    event: {
      ledgerIndex: record.index,
      leafHash: record.leafHash,
      outcome: record.outcome,
      ...(record.principal ? { principal: record.principal } : {}),
      summary: record.summary,
      entry,
      ...(record.proof ? { proof: record.proof } : {}),
    },
  };
}

/** HEC reports success as `code` 0 in a 200 answer; anything else there is a refusal. */
function acceptHecResponse(_status: number, body: string): string | undefined {
  try {
    const answer = JSON.parse(body) as { code?: unknown; text?: unknown };
    if (answer.code === 0) return undefined;
    return `code ${String(answer.code)} ${typeof answer.text === 'string' ? answer.text : ''}`.trim();
  } catch {
    return 'an answer that is not HEC JSON';
  }
}

function checkedToken(token: string): string {
  // Tokens are GUIDs, but HEC-compatible collectors use other forms: require only a header-safe value.
  if (typeof token !== 'string' || !/^[\x21-\x7e]{8,}$/.test(token)) {
    throw new ExportError('invalid_options', `${LABEL} token must be at least 8 printable ASCII characters`);
  }
  return token;
}
