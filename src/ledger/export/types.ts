import { canonicalJson } from '../canonical-json.js';

/**
 * The contract between `ztgate audit export` and the SIEM outputs: the exporter hands a sink ledger
 * entries as plain JSON with their position in the log, and the sink delivers them in its own
 * format (syslog, Splunk HEC, OTLP logs). Sinks know nothing of storage.
 */

/** How a ledger entry ended, which picks its severity: info, warning or error. */
export type ExportOutcome = 'allowed' | 'denied' | 'error';

/** An RFC 9162 inclusion proof of the entry's leaf in a tree of `treeSize` leaves. */
export interface ExportInclusionProof {
  readonly treeSize: number;
  /** The root hash of that tree, in the exporter's encoding (hex or base64). */
  readonly rootHash: string;
  /** The audit path, leaf side first, in the same encoding as rootHash. */
  readonly hashes: readonly string[];
}

/** One ledger entry, ready to leave the process. */
export interface ExportRecord {
  /** The entry's leaf index in the ledger (0-based); a SIEM can drop duplicates by it. */
  readonly index: number;
  /** When the entry was recorded: an ISO-8601 string or epoch milliseconds. */
  readonly time: string | number;
  /** A short human-readable line, for example "deny alice gpt-4o (policy p-7)". */
  readonly summary: string;
  readonly outcome: ExportOutcome;
  /** The principal the entry is about, when there is one. */
  readonly principal?: string | null;
  /** The ledger entry as plain JSON: exactly the value whose canonical form was hashed. */
  readonly entry: Readonly<Record<string, unknown>>;
  /** The entry's leaf hash, in the exporter's encoding. */
  readonly leafHash: string;
  readonly proof?: ExportInclusionProof;
}

/**
 * Where exported records go. `write` resolves once the records are handed over (to the kernel for
 * a stream, accepted by the server for HTTP) and rejects with an ExportError otherwise; records of a
 * rejected write may have been delivered in part, so a caller resumes from the first index it is
 * unsure of (delivery is at least once).
 */
export interface ExportSink {
  write(records: readonly ExportRecord[]): Promise<void>;
  /** Delivers what is pending, then releases connections. Later writes fail with `closed`. */
  close(): Promise<void>;
}

export type ExportErrorCode =
  /** A sink factory was given options it cannot work with (a start-up error). */
  | 'invalid_options'
  /** A record cannot be expressed in the sink's format (bad time, value with no JSON form). */
  | 'invalid_record'
  /** A formatted record is larger than the sink's maximum message size. */
  | 'message_too_large'
  /** The sink's bounded buffer has no room for the records: slow down or fail. */
  | 'buffer_full'
  /** The destination could not be reached (or kept failing) within the retry budget. */
  | 'unavailable'
  /** The server answered with an HTTP status that is not success; see `status`. */
  | 'http_status'
  /** The server took the request but refused some or all of its records. */
  | 'rejected'
  /** The sink was closed before the records were delivered. */
  | 'closed';

export interface ExportErrorOptions {
  /** The final HTTP status, for `http_status` and `rejected`. */
  readonly status?: number;
  /** True when the same records may succeed later (a 5xx, 429 or network failure). */
  readonly retryable?: boolean;
  readonly cause?: unknown;
}

/**
 * The one error family of the export sinks.
 * INVARIANT: no message, detail or cause built here carries a credential (HEC token, OTLP headers).
 */
export class ExportError extends Error {
  readonly code: ExportErrorCode;
  readonly status: number | undefined;
  readonly retryable: boolean;

  constructor(code: ExportErrorCode, message: string, options: ExportErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ExportError';
    this.code = code;
    this.status = options.status;
    this.retryable = options.retryable ?? false;
  }
}

export function isExportError(err: unknown, code?: ExportErrorCode): err is ExportError {
  return err instanceof ExportError && (code === undefined || err.code === code);
}

const ISO_WITH_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

/** Epoch milliseconds of a record's time, or an `invalid_record` error. */
export function recordTimeMs(record: ExportRecord): number {
  // A zone-less ISO string would be read as local time, so an explicit offset is required.
  const ms =
    typeof record.time === 'number'
      ? record.time
      : ISO_WITH_OFFSET.test(record.time)
        ? Date.parse(record.time)
        : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new ExportError('invalid_record', `record ${record.index} has no valid time`);
  }
  return Math.trunc(ms);
}

/** The RFC 8785 canonical JSON of a record's entry, or an `invalid_record` error. */
export function canonicalEntryJson(record: ExportRecord): string {
  try {
    return canonicalJson(record.entry);
  } catch (err) {
    throw new ExportError('invalid_record', `record ${record.index} entry has no canonical JSON form`, {
      cause: err,
    });
  }
}
