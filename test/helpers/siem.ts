/**
 * SIEM stand-ins for the export sink tests: a strict RFC 5424 parser, an RFC 6587 octet-counting
 * frame reader, a syslog receiver over TCP or TLS, and a throwaway CA with server and client
 * certificates.
 */
import { webcrypto } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { x509 } from '../../src/mesh/x509.js';

export interface SdElement {
  readonly id: string;
  readonly params: readonly (readonly [string, string])[];
}

export interface ParsedSyslog {
  readonly facility: number;
  readonly severity: number;
  readonly version: number;
  readonly timestamp: string | null;
  readonly hostname: string | null;
  readonly appName: string | null;
  readonly procId: string | null;
  readonly msgId: string | null;
  readonly structuredData: readonly SdElement[];
  /** MSG after the BOM, decoded as UTF-8 (strictly), when the message has a BOM. */
  readonly msgText: string | undefined;
  readonly msgBytes: Buffer | undefined;
  readonly hasBom: boolean;
}

const SP = 0x20;
const TIMESTAMP =
  /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
const IANA_SD_IDS = new Set(['timeQuality', 'origin', 'meta']);

/** Parses one SYSLOG-MSG by the RFC 5424 §6 ABNF, throwing on the first deviation. */
export function parseSyslog(bytes: Buffer): ParsedSyslog {
  const cursor = new Cursor(bytes);
  cursor.expect('<');
  const prival = cursor.digits(1, 3);
  if (prival > 191 || (cursor.last.length > 1 && cursor.last.startsWith('0'))) throw new Error('bad PRIVAL');
  cursor.expect('>');
  const version = cursor.digits(1, 3);
  if (cursor.last.startsWith('0')) throw new Error('VERSION must start with a non-zero digit');
  cursor.expect(' ');
  const timestamp = nilOr(cursor.token(64), checkTimestamp);
  cursor.expect(' ');
  const hostname = nilOr(cursor.token(255), (v) => v);
  cursor.expect(' ');
  const appName = nilOr(cursor.token(48), (v) => v);
  cursor.expect(' ');
  const procId = nilOr(cursor.token(128), (v) => v);
  cursor.expect(' ');
  const msgId = nilOr(cursor.token(32), (v) => v);
  cursor.expect(' ');
  const structuredData = parseStructuredData(cursor);
  let msgBytes: Buffer | undefined;
  if (!cursor.done) {
    cursor.expect(' ');
    msgBytes = cursor.rest();
  }
  const hasBom = msgBytes !== undefined && msgBytes.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]));
  const msgText = hasBom
    ? new TextDecoder('utf-8', { fatal: true }).decode(msgBytes!.subarray(3))
    : undefined;
  return {
    facility: Math.floor(prival / 8),
    severity: prival % 8,
    version,
    timestamp,
    hostname,
    appName,
    procId,
    msgId,
    structuredData,
    msgText,
    msgBytes,
    hasBom,
  };
}

function nilOr(value: string, check: (value: string) => string): string | null {
  return value === '-' ? null : check(value);
}

function checkTimestamp(value: string): string {
  const match = TIMESTAMP.exec(value);
  if (!match) throw new Error(`TIMESTAMP ${value} is not RFC 5424`);
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) throw new Error('no such day');
  return value;
}

function parseStructuredData(cursor: Cursor): SdElement[] {
  if (cursor.peek() === '-') {
    cursor.expect('-');
    return [];
  }
  const elements: SdElement[] = [];
  while (cursor.peek() === '[') {
    cursor.expect('[');
    const id = cursor.sdName();
    if (!IANA_SD_IDS.has(id) && !/^[^@]+@[1-9]\d*(\.\d+)*$/.test(id)) throw new Error(`bad SD-ID ${id}`);
    const params: [string, string][] = [];
    while (cursor.peek() === ' ') {
      cursor.expect(' ');
      const name = cursor.sdName();
      cursor.expect('=');
      cursor.expect('"');
      params.push([name, cursor.paramValue()]);
    }
    cursor.expect(']');
    elements.push({ id, params });
  }
  if (elements.length === 0) throw new Error('STRUCTURED-DATA is neither "-" nor SD-ELEMENTs');
  return elements;
}

class Cursor {
  private at = 0;
  last = '';
  constructor(private readonly bytes: Buffer) {}

  get done(): boolean {
    return this.at >= this.bytes.length;
  }

  peek(): string {
    return this.done ? '' : String.fromCharCode(this.bytes[this.at]!);
  }

  expect(char: string): void {
    if (this.peek() !== char) throw new Error(`expected ${JSON.stringify(char)} at byte ${this.at}`);
    this.at += 1;
  }

  digits(min: number, max: number): number {
    const start = this.at;
    while (this.at - start < max && /\d/.test(this.peek())) this.at += 1;
    this.last = this.bytes.toString('ascii', start, this.at);
    if (this.last.length < min) throw new Error(`expected digits at byte ${start}`);
    return Number(this.last);
  }

  /** 1..max PRINTUSASCII up to the next SP. */
  token(max: number): string {
    const start = this.at;
    while (!this.done && this.bytes[this.at] !== SP) {
      const byte = this.bytes[this.at]!;
      if (byte < 0x21 || byte > 0x7e) throw new Error(`byte ${byte} at ${this.at} is not PRINTUSASCII`);
      this.at += 1;
    }
    if (this.at === start || this.at - start > max) throw new Error(`header field of bad length at ${start}`);
    return this.bytes.toString('ascii', start, this.at);
  }

  /** SD-NAME: 1..32 PRINTUSASCII except '=', SP, ']' and '"'. */
  sdName(): string {
    const start = this.at;
    while (
      !this.done &&
      !'= ]"'.includes(this.peek()) &&
      this.bytes[this.at]! >= 0x21 &&
      this.bytes[this.at]! <= 0x7e
    ) {
      this.at += 1;
    }
    if (this.at === start || this.at - start > 32) throw new Error(`bad SD-NAME at byte ${start}`);
    return this.bytes.toString('ascii', start, this.at);
  }

  /** PARAM-VALUE up to the closing quote (consumed); `"`, `\` and `]` must be escaped inside. */
  paramValue(): string {
    const out: number[] = [];
    for (;;) {
      if (this.done) throw new Error('unterminated PARAM-VALUE');
      const byte = this.bytes[this.at]!;
      this.at += 1;
      if (byte === 0x22) break;
      if (byte === 0x5d) throw new Error(`unescaped "]" in PARAM-VALUE at byte ${this.at - 1}`);
      if (byte === 0x5c) {
        const next = this.bytes[this.at];
        if (next === 0x22 || next === 0x5c || next === 0x5d) {
          out.push(next);
          this.at += 1;
          continue;
        }
      }
      out.push(byte);
    }
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(out));
  }

  rest(): Buffer {
    const rest = this.bytes.subarray(this.at);
    this.at = this.bytes.length;
    return rest;
  }
}

/** Splits a byte stream into RFC 6587 octet-counted frames (`MSG-LEN SP SYSLOG-MSG`), strictly. */
export class FrameReader {
  private pending = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      const space = this.pending.indexOf(SP);
      if (space === -1) {
        if (!/^\d*$/.test(this.pending.toString('latin1'))) throw new Error('MSG-LEN is not digits');
        return frames;
      }
      const lengthText = this.pending.toString('latin1', 0, space);
      if (!/^[1-9]\d*$/.test(lengthText)) throw new Error(`bad MSG-LEN ${JSON.stringify(lengthText)}`);
      const end = space + 1 + Number(lengthText);
      if (this.pending.length < end) return frames;
      frames.push(this.pending.subarray(space + 1, end));
      this.pending = this.pending.subarray(end);
    }
  }
}

export interface SyslogReceiver {
  readonly port: number;
  readonly frames: Buffer[];
  /** Number of connections accepted so far. */
  connections: number;
  /** Subject CN of each client certificate seen (TLS with requestCert). */
  readonly clientSubjects: string[];
  readonly sockets: Set<Socket>;
  waitForFrames(count: number, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export interface TlsServerMaterial {
  readonly cert: string;
  readonly key: string;
  /** CA for client certificates; when set, the server requires one. */
  readonly clientCa?: string;
}

/** A syslog receiver on 127.0.0.1 (given port or a free one) that collects octet-counted frames. */
export async function startSyslogReceiver(tls?: TlsServerMaterial, port = 0): Promise<SyslogReceiver> {
  const frames: Buffer[] = [];
  const clientSubjects: string[] = [];
  const sockets = new Set<Socket>();
  const receiver = { connections: 0 };
  const onSocket = (socket: Socket): void => {
    receiver.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (tls?.clientCa) clientSubjects.push(String((socket as TLSSocket).getPeerCertificate().subject.CN));
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => frames.push(...reader.push(chunk)));
  };
  const server: Server = tls
    ? createTlsServer(
        {
          cert: tls.cert,
          key: tls.key,
          ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
        },
        onSocket,
      )
    : createNetServer(onSocket);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return Object.assign(receiver, {
    port: (server.address() as AddressInfo).port,
    frames,
    clientSubjects,
    sockets,
    waitForFrames: (count: number, ms = 5000) => eventually(() => frames.length >= count, ms),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

export async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function unusedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TestPki {
  readonly caPem: string;
  readonly server: { readonly cert: string; readonly key: string };
  readonly client: { readonly cert: string; readonly key: string };
}

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A throwaway CA with a server certificate for 127.0.0.1/localhost and a client certificate. */
export async function makeTestPki(caName = 'export test CA'): Promise<TestPki> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 3_600_000);
  const caKeys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${caName}`,
    notBefore,
    notAfter,
    signingAlgorithm: EC,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const leaf = async (serialNumber: string, cn: string, usage: string, san?: x509.JsonGeneralNames) => {
    const keys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: `CN=${cn}`,
      issuer: ca.subject,
      notBefore,
      notAfter,
      signingAlgorithm: EC,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        ...(san ? [new x509.SubjectAlternativeNameExtension(san)] : []),
      ],
    });
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
    return { cert: cert.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
  };
  return {
    caPem: ca.toString('pem'),
    server: await leaf('02', 'syslog.test', x509.ExtendedKeyUsage.serverAuth, [
      { type: 'ip', value: '127.0.0.1' },
      { type: 'dns', value: 'localhost' },
    ]),
    client: await leaf('03', 'ztgate-exporter', x509.ExtendedKeyUsage.clientAuth),
  };
}
