/**
 * A stand-in for HashiCorp Vault's HTTP API, built from Vault's published API documentation and
 * source because Vault cannot run here. It serves, on 127.0.0.1 and a free port:
 * - the Transit secrets engine at /v1/<mount>/... (vault-transit-stub-engine.ts), as documented at
 *   https://developer.hashicorp.com/vault/api-docs/secret/transit, with real cryptography;
 * - GET /v1/auth/token/lookup-self (https://developer.hashicorp.com/vault/api-docs/auth/token);
 * - GET /v1/sys/health, unauthenticated (https://developer.hashicorp.com/vault/api-docs/system/health).
 * As Vault does (https://developer.hashicorp.com/vault/api-docs): every other request needs the
 * X-Vault-Token header (403 `{"errors":[...]}` otherwise), LIST may be sent as GET ?list=true, data
 * comes in the envelope {request_id, lease_id, renewable, lease_duration, data, wrap_info, warnings,
 * auth} (plus mount_type, as Vault 1.13+ adds), errors as {"errors": [...]}, 204 with no body when
 * there is nothing to say. Every request is recorded (without its token) for assertions.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TransitEngine, type StubAnswer, type StubOperation } from './vault-transit-stub-engine.js';

export interface VaultStubRequest {
  readonly method: string;
  /** For example /v1/transit/encrypt/kek. */
  readonly path: string;
  /** The query string without `?` ('' when none). */
  readonly query: string;
  /** The JSON body, or null when there was none. */
  readonly body: Readonly<Record<string, unknown>> | null;
  /** The X-Vault-Namespace header, if sent. */
  readonly namespace: string | undefined;
}

export interface VaultStub {
  /** http://127.0.0.1:<port> */
  readonly address: string;
  readonly requests: VaultStubRequest[];
  close(): Promise<void>;
}

export interface VaultStubOptions {
  /** The only token the stub accepts (it may do anything, like a root token). */
  readonly token: string;
  /** Where the Transit engine is mounted; default `transit`. */
  readonly mount?: string;
  /** Serve HTTPS with this key and certificate (PEM) instead of plain HTTP. */
  readonly tls?: { readonly key: string; readonly cert: string };
}

function send(res: ServerResponse, answer: StubAnswer): void {
  if (answer.status === 204) {
    res.writeHead(204, { 'cache-control': 'no-store' }).end();
    return;
  }
  const body = answer.errors
    ? { errors: answer.errors }
    : {
        request_id: randomUUID(),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: answer.data ?? null,
        wrap_info: null,
        warnings: answer.warnings?.length ? answer.warnings : null,
        auth: null,
        mount_type: 'transit',
      };
  res
    .writeHead(answer.status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function operationOf(method: string, query: URLSearchParams): StubOperation | null {
  if (method === 'GET') return query.get('list') === 'true' ? 'list' : 'read';
  if (method === 'LIST') return 'list';
  if (method === 'POST' || method === 'PUT') return 'update';
  if (method === 'DELETE') return 'delete';
  return null;
}

export async function startVaultStub(options: VaultStubOptions): Promise<VaultStub> {
  const mount = options.mount ?? 'transit';
  const engine = new TransitEngine();
  const requests: VaultStubRequest[] = [];
  const issued = new Date();

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stub');
    const method = req.method ?? 'GET';
    const text = await readBody(req);
    let body: Record<string, unknown> | null = null;
    if (text.trim()) {
      try {
        const parsed: unknown = JSON.parse(text);
        body =
          typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
            ? (parsed as Record<string, unknown>)
            : {};
      } catch (err) {
        send(res, { status: 400, errors: [`failed to parse JSON input: ${(err as Error).message}`] });
        return;
      }
    }
    const namespace = req.headers['x-vault-namespace'];
    requests.push({
      method,
      path: url.pathname,
      query: url.search.replace(/^\?/, ''),
      body,
      namespace: typeof namespace === 'string' ? namespace : undefined,
    });
    if (!url.pathname.startsWith('/v1/')) {
      send(res, { status: 404, errors: [] });
      return;
    }
    const path = url.pathname.slice('/v1/'.length).replace(/\/+$/, '');
    if (path === 'sys/health' && method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          initialized: true,
          sealed: false,
          standby: false,
          performance_standby: false,
          replication_performance_mode: 'disabled',
          replication_dr_mode: 'disabled',
          server_time_utc: Math.floor(Date.now() / 1000),
          version: '1.19.0+stub',
          cluster_name: 'vault-stub',
          cluster_id: 'stub',
        }),
      );
      return;
    }
    const token = req.headers['x-vault-token'];
    if (token === undefined || token === '') {
      send(res, { status: 403, errors: ['permission denied'] });
      return;
    }
    if (token !== options.token) {
      // Vault 1.17+ reports both errors for a revoked, expired or unknown token (hashicorp/vault#26687).
      send(res, {
        status: 403,
        errors: ['2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n'],
      });
      return;
    }
    const op = operationOf(method, url.searchParams);
    if (!op) {
      send(res, { status: 405, errors: ['1 error occurred:\n\t* unsupported operation\n\n'] });
      return;
    }
    if (path === 'auth/token/lookup-self' && op === 'read') {
      send(res, {
        status: 200,
        data: {
          accessor: 'stub-accessor',
          creation_time: Math.floor(issued.getTime() / 1000),
          creation_ttl: 0,
          display_name: 'token',
          entity_id: '',
          expire_time: null,
          explicit_max_ttl: 0,
          id: options.token,
          meta: null,
          num_uses: 0,
          orphan: true,
          path: 'auth/token/create',
          policies: ['root'],
          renewable: false,
          ttl: 0,
          type: 'service',
        },
      });
      return;
    }
    if (path === mount || path.startsWith(`${mount}/`)) {
      const segments = path.slice(mount.length).split('/').filter(Boolean);
      send(res, engine.handle(op, segments, body ?? {}));
      return;
    }
    send(res, { status: 404, errors: [`no handler for route "${path}". route entry not found.`] });
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    answer(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, { status: 500, errors: [`1 error occurred:\n\t* ${String(err)}\n\n`] });
      else res.destroy();
    });
  };
  const server = options.tls ? createHttpsServer(options.tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
