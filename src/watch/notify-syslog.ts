/**
 * Incident notices as RFC 5424 syslog messages, over TCP (RFC 6587) or TLS (RFC 5425) with
 * octet-counting framing, or one per UDP datagram (RFC 5426). Incidents are rare, so each notice
 * opens its own connection, writes one frame and closes it: nothing to reconnect, nothing queued.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID incident
 *     [ztgate@32473 incidentId=".." playbook=".." severity=".." subjectKind=".." subjectId=".." actions=".."]
 *     BOM{"incidentId":..}                                  (MSG: the notice as JSON, as in the webhook)
 *
 * PRI = facility (default authpriv) * 8 + low 5 (notice), medium 4 (warning), high 3 (error),
 * critical 2 (critical). PARAM-VALUEs are escaped per RFC 5424 §6.3.3 (`"`, `\` and `]`).
 */
import { createSocket } from 'node:dgram';
import { isIP, isIPv6, connect as netConnect, type Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import {
  escapeParamValue,
  octetCountedFrame,
  SYSLOG_FACILITIES,
  type SyslogFacilityName,
} from '../ledger/export/syslog-format.js';
import {
  noticeData,
  NotifyError,
  type IncidentNotice,
  type IncidentSeverity,
  type Notifier,
} from './notify-webhook.js';

export interface SyslogNotifierOptions {
  readonly host: string;
  readonly port: number;
  /** `tls` verifies the receiver's certificate and name (TLS 1.2 or later). */
  readonly transport: 'tcp' | 'tls' | 'udp';
  /** CA certificate(s), PEM, the receiver's certificate must chain to (tls). Default: Node's roots. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** The name the receiver's certificate must carry, when it is not `host` (tls). */
  readonly servername?: string;
  /** APP-NAME, at most 48 printable US-ASCII characters. Default `ztgate`. */
  readonly appName?: string;
  /** HOSTNAME. Default: os.hostname(), or `-` when that is not printable US-ASCII. */
  readonly hostname?: string;
  /** Default `authpriv`. */
  readonly facility?: SyslogFacilityName | number;
  /** The private SD-ID. Default `ztgate@32473` (RFC 5612's documentation number: set your own). */
  readonly sdId?: string;
  /** Plain `tcp` or `udp` to a host other than loopback is refused unless this is true. */
  readonly allowPlaintext?: boolean;
  /** Time allowed to connect and hand over the message. Default 10 s. */
  readonly timeoutMs?: number;
  /** Largest SYSLOG-MSG in bytes; a longer notice fails with `invalid_notice`. Default 8192. */
  readonly maxMessageBytes?: number;
}

const SEVERITY_CODE: Readonly<Record<IncidentSeverity, number>> = { low: 5, medium: 4, high: 3, critical: 2 };
const PRINTUSASCII = /^[\x21-\x7e]+$/;
const PRIVATE_SD_ID = /^[^@= \]"]+@[1-9][0-9]*(\.[0-9]+)*$/;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);
const BOM = '\uFEFF';
const MAX_UDP_PAYLOAD = 65_507;

export type IncidentSyslogFormatter = (notice: IncidentNotice) => string;

/** Checks the format options once (NotifyError `invalid_options`) and returns the formatter. */
export function createIncidentSyslogFormatter(
  options: Pick<SyslogNotifierOptions, 'appName' | 'hostname' | 'facility' | 'sdId' | 'maxMessageBytes'> = {},
): IncidentSyslogFormatter {
  const facilityOption = options.facility ?? 'authpriv';
  const facility = typeof facilityOption === 'number' ? facilityOption : SYSLOG_FACILITIES[facilityOption];
  if (!Number.isInteger(facility) || facility < 0 || facility > 23) {
    throw new NotifyError('invalid_options', 'syslog facility must be a facility name or 0..23');
  }
  const systemName = osHostname();
  const header = [
    headerField('HOSTNAME', options.hostname ?? (PRINTUSASCII.test(systemName) ? systemName : '-'), 255),
    headerField('APP-NAME', options.appName ?? 'ztgate', 48),
    String(process.pid),
    'incident',
  ].join(' ');
  const sdId = options.sdId ?? 'ztgate@32473';
  if (sdId.length > 32 || !PRINTUSASCII.test(sdId) || !PRIVATE_SD_ID.test(sdId)) {
    throw new NotifyError(
      'invalid_options',
      'syslog sdId must be a private SD-ID "name@number" of <= 32 chars',
    );
  }
  const maxMessageBytes = options.maxMessageBytes ?? 8192;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 480) {
    throw new NotifyError('invalid_options', 'syslog maxMessageBytes must be an integer >= 480');
  }
  return (notice) => {
    const data = noticeData(notice);
    const timestamp = new Date(Date.parse(data.time)).toISOString();
    if (!/^\d{4}-/.test(timestamp))
      throw new NotifyError('invalid_notice', 'incident notice time out of range');
    const params: [string, string][] = [
      ['incidentId', data.incidentId],
      ['playbook', data.playbookId],
      ['severity', data.severity],
      ['subjectKind', data.subject.kind],
      ['subjectId', data.subject.id],
      ['actions', data.actions.join(',')],
    ];
    const sd = params.map(([name, value]) => ` ${name}="${escapeParamValue(value)}"`).join('');
    const pri = facility * 8 + SEVERITY_CODE[data.severity];
    const message = `<${pri}>1 ${timestamp} ${header} [${sdId}${sd}] ${BOM}${JSON.stringify(data)}`;
    const size = Buffer.byteLength(message, 'utf8');
    if (size > maxMessageBytes) {
      throw new NotifyError(
        'invalid_notice',
        `incident ${data.incidentId} is ${size} bytes as syslog, over maxMessageBytes ${maxMessageBytes}`,
      );
    }
    return message;
  };
}

/** Checks the options (NotifyError `invalid_options`) and returns a syslog notifier. */
export function syslogNotifier(options: SyslogNotifierOptions): Notifier {
  checkDestination(options);
  const format = createIncidentSyslogFormatter(options);
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new NotifyError('invalid_options', 'syslog timeoutMs must be a positive integer');
  }
  const where = `${isIPv6(options.host) ? `[${options.host}]` : options.host}:${options.port}`;
  const label = `syslog ${options.transport}://${where}`;
  return {
    label,
    async notify(notice) {
      const message = format(notice);
      const sent =
        options.transport === 'udp'
          ? sendDatagram(options, Buffer.from(message, 'utf8'))
          : sendFrame(options, octetCountedFrame(message));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new NotifyError('timeout', `${label} took over ${timeoutMs} ms`, { retryable: true })),
          timeoutMs,
        );
      });
      try {
        await Promise.race([sent.done, timeout]);
      } catch (err) {
        sent.abort();
        if (err instanceof NotifyError) throw err;
        throw new NotifyError('unavailable', `${label} unreachable`, { retryable: true, cause: err });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

interface Sending {
  readonly done: Promise<void>;
  abort(): void;
}

/** Connects, writes one frame, ends the connection; `done` resolves once the kernel took it all. */
function sendFrame(options: SyslogNotifierOptions, frame: Buffer): Sending {
  const { host, port } = options;
  let socket: Socket;
  let ready: string;
  if (options.transport === 'tls') {
    const servername = options.servername ?? (isIP(host) ? undefined : host);
    socket = tlsConnect({
      host,
      port,
      ...(options.ca === undefined ? {} : { ca: options.ca as string | Buffer | (string | Buffer)[] }),
      ...(servername === undefined ? {} : { servername }),
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
    });
    ready = 'secureConnect';
  } else {
    socket = netConnect({ host, port });
    ready = 'connect';
  }
  const done = new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', () => undefined); // a receiver sends nothing; drop whatever comes
    socket.once(ready, () => {
      socket.setNoDelay(true);
      socket.end(frame, () => {
        resolve();
        // The frame is with the kernel; do not wait on a receiver that never closes its side.
        setTimeout(() => socket.destroy(), 5_000).unref();
      });
    });
    socket.once('close', () => reject(new Error('connection closed before the message was sent')));
  });
  return { done, abort: () => socket.destroy() };
}

function sendDatagram(options: SyslogNotifierOptions, message: Buffer): Sending {
  const socket = createSocket(isIPv6(options.host) ? 'udp6' : 'udp4');
  socket.on('error', () => undefined);
  const done = new Promise<void>((resolve, reject) => {
    if (message.length > MAX_UDP_PAYLOAD) {
      reject(new NotifyError('invalid_notice', `a ${message.length}-byte message does not fit a datagram`));
      return;
    }
    socket.send(message, options.port, options.host, (err) => (err ? reject(err) : resolve()));
  }).finally(() => socket.close());
  return { done, abort: () => undefined };
}

function checkDestination(options: SyslogNotifierOptions): void {
  if (typeof options.host !== 'string' || options.host === '') {
    throw new NotifyError('invalid_options', 'syslog host is required');
  }
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) {
    throw new NotifyError('invalid_options', 'syslog port must be 1..65535');
  }
  if (!['tcp', 'tls', 'udp'].includes(options.transport)) {
    throw new NotifyError('invalid_options', 'syslog transport must be "tcp", "tls" or "udp"');
  }
  if (options.transport !== 'tls' && !LOOPBACK.has(options.host) && options.allowPlaintext !== true) {
    throw new NotifyError(
      'invalid_options',
      `plain ${options.transport} syslog to a remote host needs allowPlaintext: true`,
    );
  }
  if (options.transport !== 'tls' && (options.ca !== undefined || options.servername !== undefined)) {
    throw new NotifyError(
      'invalid_options',
      `syslog tls options given with transport "${options.transport}"`,
    );
  }
}

function headerField(name: string, value: string, maxLength: number): string {
  if (value.length > maxLength || !PRINTUSASCII.test(value)) {
    throw new NotifyError(
      'invalid_options',
      `syslog ${name} must be 1..${maxLength} printable US-ASCII characters`,
    );
  }
  return value;
}
