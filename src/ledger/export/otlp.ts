/**
 * A sink for OTLP/HTTP logs in the JSON encoding: `POST <url>/v1/logs` with an
 * ExportLogsServiceRequest `{resourceLogs:[{resource, scopeLogs:[{scope, logRecords}]}]}`.
 * OTLP's JSON rules apply: lowerCamelCase names, 64-bit integers as decimal strings, enums as
 * numbers. The body is by default the entry's canonical JSON as a string, so a collector keeps the
 * exact bytes the leaf hash covers; `kvlist` gives a structured body instead.
 */
import type { JsonValue } from '../canonical-json.js';
import { createBatchingSink, createHttpPoster, endpointUrl, type HttpSinkOptions } from './http-delivery.js';
import {
  canonicalEntryJson,
  ExportError,
  recordTimeMs,
  type ExportOutcome,
  type ExportRecord,
  type ExportSink,
} from './types.js';

export interface OtlpLogsOptions extends HttpSinkOptions {
  /** The collector's OTLP/HTTP base URL, e.g. `https://collector:4318`; logs go to `/v1/logs` under it. */
  readonly url: string | URL;
  /** Extra request headers (e.g. authorization); treated as secrets, never logged or put in errors. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Resource attribute `service.name`. Default `ztgate`. */
  readonly serviceName?: string;
  /** More resource attributes, e.g. `deployment.environment.name`. */
  readonly resourceAttributes?: Readonly<Record<string, string>>;
  /** `canonical-json` (default): body is a stringValue; `kvlist`: the entry as a kvlistValue. */
  readonly body?: 'canonical-json' | 'kvlist';
}

export type OtlpAnyValue =
  | { readonly stringValue: string }
  | { readonly boolValue: boolean }
  | { readonly intValue: string }
  | { readonly doubleValue: number }
  | { readonly arrayValue: { readonly values: readonly OtlpAnyValue[] } }
  | { readonly kvlistValue: { readonly values: readonly OtlpKeyValue[] } }
  | Record<string, never>;

export interface OtlpKeyValue {
  readonly key: string;
  readonly value: OtlpAnyValue;
}

export interface OtlpLogRecord {
  readonly timeUnixNano: string;
  readonly observedTimeUnixNano: string;
  readonly severityNumber: number;
  readonly severityText: string;
  readonly body: OtlpAnyValue;
  readonly attributes: readonly OtlpKeyValue[];
}

/** OpenTelemetry log data model severities (INFO 9, WARN 13, ERROR 17). */
export const OTLP_SEVERITY: Readonly<Record<ExportOutcome, { number: number; text: string }>> = {
  allowed: { number: 9, text: 'INFO' },
  denied: { number: 13, text: 'WARN' },
  error: { number: 17, text: 'ERROR' },
};

const LABEL = 'OTLP collector';
export const OTLP_SCOPE_NAME = 'ztgate.ledger.export';

/** Checks the options (ExportError `invalid_options`) and returns the sink. */
export function createOtlpLogsSink(options: OtlpLogsOptions): ExportSink {
  const url = endpointUrl(options.url, 'v1/logs', LABEL);
  const bodyForm = options.body ?? 'canonical-json';
  if (bodyForm !== 'canonical-json' && bodyForm !== 'kvlist') {
    throw new ExportError('invalid_options', `${LABEL} body must be "canonical-json" or "kvlist"`);
  }
  const resource = {
    attributes: Object.entries({
      'service.name': options.serviceName ?? 'ztgate',
      ...options.resourceAttributes,
    }).map(([key, value]) => ({ key, value: { stringValue: value } })),
  };
  return createBatchingSink({
    label: LABEL,
    poster: createHttpPoster({ label: LABEL, url, headers: { ...options.headers } }, options),
    encode: (record) => JSON.stringify(otlpLogRecord(record, bodyForm)),
    sizeOf: (json) => Buffer.byteLength(json, 'utf8') + 1,
    // Each item is already JSON: splice them in rather than parse and re-serialise.
    requestBody: (records) =>
      `{"resourceLogs":[{"resource":${JSON.stringify(resource)},"scopeLogs":[{"scope":` +
      `{"name":"${OTLP_SCOPE_NAME}"},"logRecords":[${records.join(',')}]}]}]}`,
    accept: acceptOtlpResponse,
  });
}

/** The OTLP LogRecord (JSON encoding) for one export record. */
export function otlpLogRecord(
  record: ExportRecord,
  bodyForm: 'canonical-json' | 'kvlist' = 'canonical-json',
  observedMs: number = Date.now(),
): OtlpLogRecord {
  const entryJson = canonicalEntryJson(record);
  const severity = OTLP_SEVERITY[record.outcome];
  return {
    timeUnixNano: unixNano(recordTimeMs(record)),
    observedTimeUnixNano: unixNano(observedMs),
    severityNumber: severity.number,
    severityText: severity.text,
    body: bodyForm === 'kvlist' ? toAnyValue(JSON.parse(entryJson) as JsonValue) : { stringValue: entryJson },
    attributes: recordAttributes(record),
  };
}

function recordAttributes(record: ExportRecord): OtlpKeyValue[] {
  const attributes: OtlpKeyValue[] = [
    { key: 'ztgate.ledger.index', value: { intValue: String(record.index) } },
    { key: 'ztgate.ledger.leaf_hash', value: { stringValue: record.leafHash } },
    { key: 'ztgate.outcome', value: { stringValue: record.outcome } },
    { key: 'ztgate.summary', value: { stringValue: record.summary } },
  ];
  if (record.principal)
    attributes.push({ key: 'ztgate.principal', value: { stringValue: record.principal } });
  if (record.proof) {
    const { treeSize, rootHash, hashes } = record.proof;
    attributes.push(
      { key: 'ztgate.ledger.tree_size', value: { intValue: String(treeSize) } },
      { key: 'ztgate.ledger.root_hash', value: { stringValue: rootHash } },
      {
        key: 'ztgate.ledger.inclusion_proof',
        value: { arrayValue: { values: hashes.map((hash) => ({ stringValue: hash })) } },
      },
    );
  }
  return attributes;
}

/** A JSON value as an OTLP AnyValue: safe integers become intValue (a decimal string), null the empty value. */
export function toAnyValue(value: JsonValue): OtlpAnyValue {
  if (value === null) return {};
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  }
  if (Array.isArray(value)) return { arrayValue: { values: value.map(toAnyValue) } };
  return {
    kvlistValue: { values: Object.entries(value).map(([key, item]) => ({ key, value: toAnyValue(item) })) },
  };
}

function unixNano(ms: number): string {
  return (BigInt(ms) * 1_000_000n).toString();
}

/** A 2xx answer may still report `partialSuccess.rejectedLogRecords` (an int64, so maybe a string). */
function acceptOtlpResponse(_status: number, body: string): string | undefined {
  if (body.trim() === '') return undefined;
  let answer: { partialSuccess?: { rejectedLogRecords?: unknown; errorMessage?: unknown } };
  try {
    answer = JSON.parse(body) as typeof answer;
  } catch {
    return 'an answer that is not OTLP JSON';
  }
  const rejected = Number(answer.partialSuccess?.rejectedLogRecords ?? 0);
  if (rejected === 0) return undefined;
  const reason = answer.partialSuccess?.errorMessage;
  return `${rejected} log records${typeof reason === 'string' ? `: ${reason}` : ''}`;
}
