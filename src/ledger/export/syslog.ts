/**
 * A sink that streams RFC 5424 messages to a syslog receiver over TCP (RFC 6587) or TLS (RFC 5425),
 * each framed by octet counting: `MSG-LEN SP SYSLOG-MSG`.
 *
 * Records wait in a bounded in-memory queue; one pump writes them in order, reconnecting with
 * backoff when the connection drops. A frame leaves the queue only once the socket has accepted it,
 * so a frame cut off by a failure is sent again on the next connection: delivery is at least once
 * and the receiver can drop duplicates by `index`. Syslog has no application-level acknowledgement:
 * bytes the kernel accepted just before the receiver died are lost without a trace (RFC 6587 §4.3
 * has no remedy either); the ledger's consistency proofs are what reveal such a gap.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { backoffDelay, checkedBackoff, sleep, type Backoff, type BackoffOptions } from './retry.js';
import { createSyslogFormatter, octetCountedFrame, type SyslogFormatOptions } from './syslog-format.js';
import { ExportError, type ExportRecord, type ExportSink } from './types.js';

export * from './syslog-format.js';

export interface SyslogTlsOptions {
  /** CA certificate(s), PEM, that the receiver's certificate must chain to. Default: Node's roots. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate chain and key (PEM) when the receiver asks for mutual TLS. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** The name the receiver's certificate must carry, when it is not `host`. */
  readonly servername?: string;
}

export interface SyslogSinkOptions {
  readonly host: string;
  readonly port: number;
  /** `tls` (RFC 5425, TLS 1.2 or later, certificate and name verified) or plain `tcp`. */
  readonly transport: 'tcp' | 'tls';
  readonly tls?: SyslogTlsOptions;
  /** Plain `tcp` to a host other than loopback is refused unless this is true. Default false. */
  readonly allowPlaintext?: boolean;
  readonly format?: SyslogFormatOptions;
  /** Most bytes waiting to be sent; a write that would go past it fails with `buffer_full`. Default 4 MiB. */
  readonly maxBufferedBytes?: number;
  /** Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Failed connects or writes in a row before every waiting write fails with `unavailable`. Default 8. */
  readonly maxAttempts?: number;
  readonly backoff?: BackoffOptions;
}

interface PendingWrite {
  remaining: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface QueuedFrame {
  readonly bytes: Buffer;
  readonly owner: PendingWrite;
}

/** Bytes handed to one socket.write: enough to fill a TCP window, small enough to bound a resend. */
const WRITE_CHUNK_BYTES = 256 * 1024;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

/** Checks the options (ExportError `invalid_options`) and returns a sink; it connects on first write. */
export function createSyslogSink(options: SyslogSinkOptions): ExportSink {
  return new SyslogStreamSink(options);
}

class SyslogStreamSink implements ExportSink {
  private readonly format: (record: ExportRecord) => string;
  private readonly maxBufferedBytes: number;
  private readonly maxAttempts: number;
  private readonly connectTimeoutMs: number;
  private readonly backoff: Backoff;
  private readonly queue: QueuedFrame[] = [];
  private queuedBytes = 0;
  private socket: Socket | undefined;
  private pump: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: SyslogSinkOptions) {
    checkDestination(options);
    this.format = createSyslogFormatter(options.format);
    this.maxBufferedBytes = positiveInteger(options.maxBufferedBytes ?? 4 * 1024 * 1024, 'maxBufferedBytes');
    this.maxAttempts = positiveInteger(options.maxAttempts ?? 8, 'maxAttempts');
    this.connectTimeoutMs = positiveInteger(options.connectTimeoutMs ?? 10_000, 'connectTimeoutMs');
    this.backoff = backoffOption(options.backoff);
  }

  async write(records: readonly ExportRecord[]): Promise<void> {
    if (this.closed) throw new ExportError('closed', 'the syslog sink is closed');
    if (records.length === 0) return;
    // Format everything first, so a bad record refuses the whole write and nothing is half queued.
    const frames = records.map((record) => octetCountedFrame(this.format(record)));
    const size = frames.reduce((total, frame) => total + frame.length, 0);
    if (this.queuedBytes + size > this.maxBufferedBytes) {
      throw new ExportError(
        'buffer_full',
        `the syslog buffer holds ${this.queuedBytes} of ${this.maxBufferedBytes} bytes; ${size} more do not fit`,
        { retryable: true },
      );
    }
    return new Promise<void>((resolve, reject) => {
      const owner: PendingWrite = { remaining: frames.length, resolve, reject };
      for (const bytes of frames) this.queue.push({ bytes, owner });
      this.queuedBytes += size;
      this.pump ??= this.drain().finally(() => (this.pump = undefined));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pump;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await endSocket(socket, this.connectTimeoutMs);
  }

  private async drain(): Promise<void> {
    let failures = 0;
    while (this.queue.length > 0) {
      try {
        await this.flushChunk(this.usableSocket() ?? (await this.connect()));
        failures = 0;
      } catch (err) {
        this.dropSocket();
        failures += 1;
        if (failures >= this.maxAttempts) {
          this.failQueued(err);
          failures = 0;
        } else {
          await sleep(backoffDelay(this.backoff, failures - 1));
        }
      }
    }
  }

  /** Writes the frames at the head of the queue and takes them off it once the socket accepted them. */
  private async flushChunk(socket: Socket): Promise<void> {
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && (count === 0 || bytes < WRITE_CHUNK_BYTES)) {
      bytes += this.queue[count]!.bytes.length;
      count += 1;
    }
    const chunk = Buffer.concat(
      this.queue.slice(0, count).map((frame) => frame.bytes),
      bytes,
    );
    await writeToSocket(socket, chunk);
    const sent = this.queue.splice(0, count);
    this.queuedBytes -= bytes;
    for (const frame of sent) {
      frame.owner.remaining -= 1;
      if (frame.owner.remaining === 0) frame.owner.resolve();
    }
  }

  private failQueued(cause: unknown): void {
    const error = new ExportError(
      'unavailable',
      `syslog receiver ${this.options.host}:${this.options.port} unreachable after ${this.maxAttempts} attempts`,
      { retryable: true, cause },
    );
    const owners = new Set(this.queue.map((frame) => frame.owner));
    this.queue.length = 0;
    this.queuedBytes = 0;
    for (const owner of owners) owner.reject(error);
  }

  private usableSocket(): Socket | undefined {
    const socket = this.socket;
    return socket && !socket.destroyed && socket.writable ? socket : undefined;
  }

  private dropSocket(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): Promise<Socket> {
    const { host, port, transport } = this.options;
    const socket = transport === 'tls' ? tlsConnect(tlsOptions(this.options)) : netConnect({ host, port });
    const readyEvent = transport === 'tls' ? 'secureConnect' : 'connect';
    return new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => socket.destroy(new Error('connect timed out')), this.connectTimeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      });
      socket.once(readyEvent, () => {
        clearTimeout(timer);
        this.adopt(socket);
        resolve(socket);
      });
    });
  }

  private adopt(socket: Socket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    // A receiver sends nothing; read and drop whatever comes so the socket sees the peer's FIN.
    socket.on('data', () => undefined);
    socket.on('error', () => undefined); // surfaced through the pending write's callback
    const forget = (): void => {
      if (this.socket === socket) this.socket = undefined;
    };
    socket.on('end', forget);
    socket.on('close', forget);
    this.socket = socket;
  }
}

function checkDestination(options: SyslogSinkOptions): void {
  if (typeof options.host !== 'string' || options.host === '') {
    throw new ExportError('invalid_options', 'syslog host is required');
  }
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) {
    throw new ExportError('invalid_options', 'syslog port must be 1..65535');
  }
  if (options.transport !== 'tcp' && options.transport !== 'tls') {
    throw new ExportError('invalid_options', 'syslog transport must be "tcp" or "tls"');
  }
  if (options.transport === 'tcp' && !LOOPBACK.has(options.host) && options.allowPlaintext !== true) {
    throw new ExportError('invalid_options', 'plain TCP syslog to a remote host needs allowPlaintext: true');
  }
  if (options.transport === 'tcp' && options.tls) {
    throw new ExportError('invalid_options', 'syslog tls options given with transport "tcp"');
  }
}

function tlsOptions(options: SyslogSinkOptions): ConnectionOptions {
  const tls = options.tls ?? {};
  const servername = tls.servername ?? (isIP(options.host) ? undefined : options.host);
  return {
    host: options.host,
    port: options.port,
    ...(tls.ca === undefined ? {} : { ca: tls.ca as ConnectionOptions['ca'] }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    ...(servername === undefined ? {} : { servername }),
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
  };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ExportError('invalid_options', `syslog ${name} must be a positive integer`);
  }
  return value;
}

function backoffOption(options: BackoffOptions | undefined): Backoff {
  try {
    return checkedBackoff(options);
  } catch (err) {
    throw new ExportError('invalid_options', 'syslog backoff is invalid', { cause: err });
  }
}

/** Resolves once the socket took the bytes; rejects if it fails or closes first. */
function writeToSocket(socket: Socket, chunk: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onClose = (): void => reject(new Error('connection closed during write'));
    socket.once('close', onClose);
    socket.write(chunk, (err) => {
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

function endSocket(socket: Socket, timeoutMs: number): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.end();
  });
}
