import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AuthenticateStage, Credentials } from '../../src/core/index.js';
import { certificateFacts, normalizeSerial } from '../../src/mesh/index.js';

/** One request an mTLS upstream served: who the client was, on which connection. */
export interface SeenRequest {
  readonly clientId: string | undefined;
  readonly clientSerial: string;
  readonly connection: number;
}

export interface MtlsUpstream {
  readonly url: string;
  readonly seen: SeenRequest[];
  /** The next answer carries `connection: close`, so the client must open a new connection. */
  closeAfterNext(): void;
  close(): Promise<void>;
}

/**
 * A plain Node https server that demands a client certificate from `ca` and serves an
 * OpenAI-compatible chat answer only to the client whose SPIFFE ID is `expectedClientId`.
 */
export async function startMtlsUpstream(options: {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly expectedClientId: string;
}): Promise<MtlsUpstream> {
  const seen: SeenRequest[] = [];
  const connections = new WeakMap<TLSSocket, number>();
  let next = 0;
  let closeNext = false;
  const server: Server = createServer(
    { cert: options.cert, key: options.key, ca: options.ca, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      if (!connections.has(socket)) connections.set(socket, ++next);
      const peer = socket.getPeerCertificate();
      const clientId = certificateFacts(peer.raw).uris[0];
      seen.push({
        clientId,
        clientSerial: normalizeSerial(peer.serialNumber),
        connection: connections.get(socket)!,
      });
      const headers = { 'content-type': 'application/json', ...(closeNext ? { connection: 'close' } : {}) };
      closeNext = false;
      req.resume();
      req.on('end', () => {
        if (clientId !== options.expectedClientId) {
          res.writeHead(403, headers).end(JSON.stringify({ error: { message: 'wrong client' } }));
        } else if (req.url?.endsWith('/models')) {
          res.writeHead(200, headers).end(JSON.stringify({ object: 'list', data: [] }));
        } else {
          res.writeHead(200, headers).end(
            JSON.stringify({
              id: 'c1',
              object: 'chat.completion',
              created: 0,
              model: 'x',
              choices: [
                {
                  index: 0,
                  message: { role: 'assistant', content: 'hello over mtls' },
                  finish_reason: 'stop',
                },
              ],
              usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 },
            }),
          );
        }
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/v1`,
    seen,
    closeAfterNext: () => {
      closeNext = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An authenticate stage that lets everyone in as a service and remembers the credentials it saw. */
export function recordingAuthenticator(seen: Credentials[]): AuthenticateStage {
  return async ({ credentials }) => {
    seen.push(credentials);
    return {
      principal: {
        kind: 'service',
        id: credentials.clientCertificate?.spiffeId ?? 'test#anonymous',
        issuer: 'test',
        subject: credentials.clientCertificate?.spiffeId ?? 'anonymous',
        authMethod: 'mtls',
        roles: [],
        groups: [],
        attributes: {},
      },
    };
  };
}

export function chatBody(model: string): string {
  return JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });
}
