/**
 * RFC 5424 syslog messages for exported ledger entries (the sink that streams them is syslog.ts).
 *
 * One message per entry: HEADER, one private SD-ELEMENT with the entry's position in the ledger
 * (index, leaf hash, proof) and who and what it is about, and MSG = BOM + the entry's RFC 8785
 * canonical JSON, so that a SIEM holds the exact bytes the leaf hash was taken over.
 */
import { hostname as osHostname } from 'node:os';
import {
  canonicalEntryJson,
  ExportError,
  recordTimeMs,
  type ExportOutcome,
  type ExportRecord,
} from './types.js';

/** RFC 5424 §6.2.1 facility codes. */
export const SYSLOG_FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  audit: 13,
  alert: 14,
  clock: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;

export type SyslogFacilityName = keyof typeof SYSLOG_FACILITIES;

/** RFC 5424 severities per outcome: a refusal is worth a look, an error is an error. */
export const SYSLOG_SEVERITY: Readonly<Record<ExportOutcome, number>> = {
  allowed: 6, // informational
  denied: 4, // warning
  error: 3, // error
};

export interface SyslogFormatOptions {
  /**
   * Default `authpriv` (10): receivers commonly route it to a file only root can read, which suits
   * records naming principals. `audit` (13, "log audit") and `local0`–`local7` are common choices.
   */
  readonly facility?: SyslogFacilityName | number;
  /** HOSTNAME: 1–255 printable US-ASCII characters. Default: os.hostname(). */
  readonly hostname?: string;
  /** APP-NAME, at most 48 characters. Default `ztgate`. */
  readonly appName?: string;
  /** PROCID, at most 128 characters, or null for the NILVALUE. Default: the process id. */
  readonly procId?: string | null;
  /** MSGID, at most 32 characters. Default `audit`. */
  readonly msgId?: string;
  /**
   * The private SD-ID `name@<private enterprise number>`. Default `ztgate@32473`, 32473 being the
   * example number RFC 5612 reserves for documentation: set your organisation's own in production.
   */
  readonly sdId?: string;
  /** Largest SYSLOG-MSG in bytes; a longer record fails with `message_too_large` rather than
   *  being truncated (a cut entry could not be verified). Receivers must accept it (RFC 5425
   *  only requires 2048; rsyslog's default is 8k). Default 65536. */
  readonly maxMessageBytes?: number;
}

export type SyslogFormatter = (record: ExportRecord) => string;

const PRINTUSASCII = /^[\x21-\x7e]+$/;
const SD_NAME = /^[\x21-\x7e]{1,32}$/;
const SD_NAME_FORBIDDEN = /[= \]"]/;
const PRIVATE_SD_ID = /^[^@]+@[1-9][0-9]*(\.[0-9]+)*$/;
const BOM = '\uFEFF';
const DEFAULT_MAX_MESSAGE_BYTES = 65_536;

/** Checks the options once and returns the formatter; throws ExportError `invalid_options`. */
export function createSyslogFormatter(options: SyslogFormatOptions = {}): SyslogFormatter {
  const facility = facilityCode(options.facility ?? 'authpriv');
  const header = [
    headerField('HOSTNAME', options.hostname ?? osHostname(), 255),
    headerField('APP-NAME', options.appName ?? 'ztgate', 48),
    options.procId === null ? '-' : headerField('PROCID', options.procId ?? String(process.pid), 128),
    headerField('MSGID', options.msgId ?? 'audit', 32),
  ].join(' ');
  const sdId = checkedSdId(options.sdId ?? 'ztgate@32473');
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 480) {
    throw new ExportError('invalid_options', 'syslog maxMessageBytes must be an integer >= 480');
  }
  return (record) => {
    const pri = facility * 8 + SYSLOG_SEVERITY[record.outcome];
    const message =
      `<${pri}>1 ${syslogTimestamp(record)} ${header} ` +
      `${structuredData(sdId, record)} ${BOM}${canonicalEntryJson(record)}`;
    const size = Buffer.byteLength(message, 'utf8');
    if (size > maxMessageBytes) {
      throw new ExportError(
        'message_too_large',
        `record ${record.index} is ${size} bytes as syslog, over maxMessageBytes ${maxMessageBytes}`,
      );
    }
    return message;
  };
}

/** One RFC 5424 SYSLOG-MSG for `record` (options checked on every call: prefer createSyslogFormatter). */
export function formatSyslog(record: ExportRecord, options: SyslogFormatOptions = {}): string {
  return createSyslogFormatter(options)(record);
}

/** RFC 6587 §3.4.1 / RFC 5425 §4.3 octet-counting frame: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in bytes. */
export function octetCountedFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

/** PARAM-VALUE escaping (RFC 5424 §6.3.3): `"`, `\` and `]` get a backslash; nothing else does. */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

function facilityCode(facility: SyslogFacilityName | number): number {
  const code = typeof facility === 'number' ? facility : SYSLOG_FACILITIES[facility];
  if (!Number.isInteger(code) || code < 0 || code > 23) {
    throw new ExportError('invalid_options', 'syslog facility must be a facility name or 0..23');
  }
  return code;
}

function headerField(name: string, value: string, maxLength: number): string {
  if (value.length > maxLength || !PRINTUSASCII.test(value)) {
    throw new ExportError(
      'invalid_options',
      `syslog ${name} must be 1..${maxLength} printable US-ASCII characters`,
    );
  }
  return value;
}

function checkedSdId(sdId: string): string {
  if (!SD_NAME.test(sdId) || SD_NAME_FORBIDDEN.test(sdId) || !PRIVATE_SD_ID.test(sdId)) {
    throw new ExportError(
      'invalid_options',
      'syslog sdId must be a private SD-ID "name@enterprise-number" of at most 32 characters without = ] " or space',
    );
  }
  return sdId;
}

/** TIMESTAMP in UTC with milliseconds (RFC 5424 §6.2.3 allows up to 6 fraction digits). */
function syslogTimestamp(record: ExportRecord): string {
  const iso = new Date(recordTimeMs(record)).toISOString();
  // toISOString gives a 6-digit signed year past 9999, which FULL-DATE cannot hold.
  if (!/^\d{4}-/.test(iso))
    throw new ExportError('invalid_record', `record ${record.index} time out of range`);
  return iso;
}

function structuredData(sdId: string, record: ExportRecord): string {
  const params: [string, string][] = [
    ['index', String(record.index)],
    ['leafHash', record.leafHash],
    ['outcome', record.outcome],
  ];
  if (record.principal) params.push(['principal', record.principal]);
  params.push(['summary', record.summary]);
  if (record.proof) {
    params.push(['treeSize', String(record.proof.treeSize)]);
    params.push(['rootHash', record.proof.rootHash]);
    params.push(['inclusionProof', record.proof.hashes.join(',')]);
  }
  const rendered = params.map(([name, value]) => ` ${name}="${escapeParamValue(value)}"`).join('');
  return `[${sdId}${rendered}]`;
}
