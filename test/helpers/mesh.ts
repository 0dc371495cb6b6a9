import { generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest, type Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { openKeyContext, type KeyContext } from '../../src/cli/key-context.js';
import { createLogger } from '../../src/cli/logger.js';
import { ensureHome, parseConfig } from '../../src/config/index.js';
import type { Stages } from '../../src/core/index.js';
import { startGateway, type RunningGateway } from '../../src/gateway/assemble.js';
import { randomSerial, signCertificate, type CertificateTemplate } from '../../src/mesh/cert-signer.js';
import {
  BuiltInCa,
  certificateFacts,
  derToPem,
  newSvid,
  normalizeSerial,
  workloadId,
  type SpiffeId,
  type SvidIssuer,
  type SvidMaterial,
} from '../../src/mesh/index.js';
import { keyIdentifier, svidExtensions, type IssuedCertificate } from '../../src/mesh/svid.js';
import { x509 } from '../../src/mesh/x509.js';
import { LogCapture } from './gateway.js';

export const TD = 'example.org';

/** A CA held in memory with node keys: "another CA" and the external (SPIRE-like) issuer of the tests. */
export class SoftCa implements SvidIssuer {
  private constructor(
    readonly trustDomain: string,
    readonly root: Buffer,
    private readonly rootKey: KeyObject,
    private readonly rootPublic: KeyObject,
    private readonly rootKeyId: string,
  ) {}

  static async create(trustDomain: string): Promise<SoftCa> {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const keyId = await keyIdentifier(spki);
    const name = `CN=soft root, O=${trustDomain}`;
    const root = await signCertificate(
      {
        subject: name,
        issuer: name,
        serial: randomSerial(),
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86_400_000),
        publicKey: spki,
        extensions: [
          new x509.BasicConstraintsExtension(true, 1, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          new x509.SubjectKeyIdentifierExtension(keyId),
        ],
      },
      async (tbs) => sign('sha256', tbs, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
      publicKey,
    );
    return new SoftCa(trustDomain, root, privateKey, publicKey, keyId);
  }

  get bundlePem(): string {
    return derToPem(this.root);
  }

  /** The root as a SPIFFE bundle (JWKS), plus a jwt-svid key and an x509-svid key without x5c to ignore. */
  jwks(): string {
    const jwk = this.rootPublic.export({ format: 'jwk' });
    return JSON.stringify({
      spiffe_sequence: 7,
      spiffe_refresh_hint: 300,
      keys: [
        { ...jwk, use: 'x509-svid', x5c: [this.root.toString('base64')] },
        { ...jwk, use: 'jwt-svid', kid: 'jwt-1' },
        { ...jwk, use: 'x509-svid' },
      ],
    });
  }

  async signLeaf(template: Omit<CertificateTemplate, 'issuer'>): Promise<IssuedCertificate> {
    const der = await signCertificate(
      { ...template, issuer: new x509.X509Certificate(this.root).subjectName },
      async (tbs) => sign('sha256', tbs, { key: this.rootKey, dsaEncoding: 'ieee-p1363' }),
      this.rootPublic,
    );
    const facts = certificateFacts(der);
    return {
      certificate: der,
      chain: [der],
      serial: facts.serial,
      notBefore: facts.notBefore,
      notAfter: facts.notAfter,
    };
  }

  async issueSvid(id: SpiffeId, publicKey: KeyObject, ttlMs: number): Promise<IssuedCertificate> {
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    return this.signLeaf({
      subject: 'O=soft',
      serial: randomSerial(),
      notBefore: new Date(Date.now() - 10_000),
      notAfter: new Date(Date.now() + ttlMs),
      publicKey: spki,
      extensions: await svidExtensions(id, spki, this.rootKeyId),
    });
  }
}

/** Options for a leaf with unusual contents, signed by `issuer` (the real CA's intermediate, or a SoftCa). */
export interface OddLeaf {
  readonly uris?: readonly string[];
  readonly dns?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

/** A certificate and key for a client, signed by `issuer`, breaking the SVID rules as asked. */
export async function oddLeaf(
  issuer: Pick<BuiltInCa, 'signLeaf'> | Pick<SoftCa, 'signLeaf'>,
  odd: OddLeaf,
): Promise<{ cert: string; key: string; serial: string }> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const names = [
    ...(odd.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(odd.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
  ];
  const issued = await issuer.signLeaf({
    subject: 'O=odd',
    serial: randomSerial(),
    notBefore: odd.notBefore ?? new Date(Date.now() - 10_000),
    notAfter: odd.notAfter ?? new Date(Date.now() + 3_600_000),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
    ],
  });
  return {
    cert: issued.chain.map(derToPem).join(''),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    serial: issued.serial,
  };
}

/** A home with a built-in CA (keys in its local key provider). */
export interface MeshHome {
  readonly home: string;
  readonly ca: BuiltInCa;
  readonly context: KeyContext;
  /** A fresh SVID from the built-in CA. */
  svid(kind: string, name: string, ttlMs?: number): Promise<SvidMaterial>;
  close(): Promise<void>;
}

export async function meshHome(trustDomain = TD): Promise<MeshHome> {
  const home = await mkdtemp(join(tmpdir(), 'ztgate-mesh-'));
  await ensureHome(home);
  const context = await openKeyContext(home);
  const ca = await BuiltInCa.init(context.service.keys, context.home, trustDomain, 'test');
  return {
    home,
    ca,
    context,
    svid: (kind, name, ttlMs = 3_600_000) => newSvid(ca, workloadId(trustDomain, kind, name), ttlMs),
    async close() {
      await context.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

export interface MeshGateway {
  readonly gw: RunningGateway;
  readonly logs: LogCapture;
  /** The `mesh: peer refused` log lines' codes so far. */
  refusals(): string[];
  close(): Promise<void>;
}

/** Starts a gateway in `home` with `yaml` (a whole config: ports 0 are up to the caller). */
export async function startMeshGateway(
  home: string,
  yaml: string,
  stageOverrides?: Partial<Stages>,
): Promise<MeshGateway> {
  const logs = new LogCapture();
  const gw = await startGateway({
    config: parseConfig(yaml, {}),
    home,
    logger: createLogger('debug', logs),
    processMetrics: false,
    ...(stageOverrides ? { stageOverrides } : {}),
  });
  return {
    gw,
    logs,
    refusals: () =>
      logs.lines
        .map((line) => JSON.parse(line) as { msg?: string; code?: string })
        .filter((entry) => entry.msg === 'mesh: peer refused')
        .map((entry) => entry.code ?? ''),
    close: () => gw.close(),
  };
}

export interface TlsAnswer {
  readonly status: number;
  readonly body: string;
  readonly socket: TLSSocket;
  /** The server certificate's serial and SPIFFE ID. */
  readonly serverSerial: string;
  readonly serverId: string | undefined;
}

export interface TlsClient {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
  readonly agent?: Agent;
}

/** A request over TLS (GET unless a body is given); the server is checked against `ca` (its host name is not: SVIDs have none). */
export function tlsGet(url: string, client: TlsClient, body?: string): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        ca: client.ca,
        ...(client.cert ? { cert: client.cert, key: client.key } : {}),
        agent: client.agent ?? false,
        checkServerIdentity: () => undefined,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peer = socket.getPeerCertificate();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const facts = certificateFacts(peer.raw);
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            socket,
            serverSerial: normalizeSerial(peer.serialNumber),
            serverId: facts.uris[0],
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Resolves with the error of a request the server refuses (connection closed or TLS alert). */
export async function refused(answer: Promise<TlsAnswer>): Promise<Error> {
  try {
    const got = await answer;
    throw new Error(`expected the connection to be refused, got HTTP ${got.status}`);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('expected the connection')) throw err;
    return err as Error;
  }
}

/** Waits until `check` passes (polling), or fails after `ms`. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function serialOf(pem: string): string {
  return normalizeSerial(new X509Certificate(pem).serialNumber);
}
