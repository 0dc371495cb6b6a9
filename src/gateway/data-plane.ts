import { randomUUID, createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ZtgateConfig } from '../config/index.js';
import { ZtError } from '../core/index.js';
import {
  IngressError,
  errorBody,
  type ChatRequest,
  type ClientCertificate,
  type Credentials,
  type EmbeddingsRequest,
  type ModelRequest,
  type RequestContext,
} from '../core/index.js';
import type { MeshServerTls } from '../mesh/index.js';
import type { CatalogueModel } from '../runtime/index.js';
import { sendError, toZtError } from './errors.js';
import { parseJsonBody } from './json-body.js';
import type { GatewayMetrics } from './metrics.js';
import type { Pipeline } from './pipeline.js';
import { chatCompletionSchema, embeddingsSchema } from './request-schemas.js';
import { createSseSink } from './sse-sink.js';

export interface DataPlaneOptions {
  readonly config: ZtgateConfig;
  readonly pipeline: Pipeline;
  readonly models: readonly CatalogueModel[];
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /**
   * `server.tls`: HTTPS with the gateway's SVID; a client certificate the mesh verified becomes
   * the request's `clientCertificate` credential (docs/MESH.md).
   */
  readonly tls?: MeshServerTls;
  /** Answers a client asking again for a held tool call (undefined: not found for this caller). */
  readonly claimApproval?: (id: string, ctx: RequestContext) => Promise<object | undefined>;
  /** The proved attestation of an upstream's runtime now (undefined: the upstream is not attested). */
  readonly runtimeOf?: (
    upstreamId: string,
  ) => { readonly attested: boolean; readonly attestationKind: string } | undefined;
}

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

function credentialsOf(
  headers: IncomingHttpHeaders,
  remoteAddress: string | undefined,
  clientCertificate: ClientCertificate | undefined,
): Credentials {
  const auth = headers.authorization;
  const match = typeof auth === 'string' ? BEARER.exec(auth) : null;
  return { bearer: match?.[1], headers, remoteAddress, ...(clientCertificate ? { clientCertificate } : {}) };
}

/** What the JSON body parser leaves on a request: the body's digest and bytes. */
type ReceivedRequest = FastifyRequest & { promptSha256?: string; rawBody?: Buffer };
/** Answers a connection-level error (oversized headers, slow client) with our error shape. */
function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const zt =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new IngressError('headers_too_large')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new IngressError('request_timeout')
        : new IngressError('invalid_request');
  const body = JSON.stringify(errorBody(zt));
  socket.end(
    `HTTP/1.1 ${zt.status} ${zt.code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** An AbortSignal that fires when the client goes away before the answer is complete. */
function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/**
 * The data plane: the OpenAI-compatible API. This file is ingress (limits, parsing, schema) and
 * release (writing the answer); everything in between is the pipeline's.
 */
export async function createDataPlane(options: DataPlaneOptions) {
  const { config, pipeline, models, metrics, logger, tls } = options;
  const limits = config.limits;
  /** The verified client certificate of each request on a mutual-TLS connection. */
  const clientCertificates = new WeakMap<IncomingMessage, ClientCertificate>();

  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: () => randomUUID(),
    bodyLimit: limits.bodyBytes,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    return503OnClosing: true,
    clientErrorHandler,
    serverFactory: (handler) => {
      const httpOptions = {
        maxHeaderSize: limits.headerBytes,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        // Node checks these time-outs on this interval (default 30 s), so it bounds their precision.
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 2))),
      };
      if (!tls) return createServer(httpOptions, handler);
      const server = createHttpsServer({ ...httpOptions, ...tls.tlsOptions }, handler);
      tls.attach(server);
      return server;
    },
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: limits.bodyBytes },
    (request: FastifyRequest, body: Buffer, done) => {
      try {
        const received = request as ReceivedRequest;
        received.promptSha256 = createHash('sha256').update(body).digest('hex');
        received.rawBody = body;
        done(null, parseJsonBody(body, limits.jsonDepth));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (!tls) return;
    let peer: ReturnType<MeshServerTls['peerOf']>;
    try {
      // Re-checked on every request: a kept-alive connection ends once its certificate is revoked.
      peer = tls.peerOf(request.raw.socket);
    } catch {
      // peerOf closed the connection and reported why.
      return reply.hijack();
    }
    if (peer) {
      clientCertificates.set(request.raw, {
        spiffeId: peer.spiffeId.id,
        serialNumber: peer.serialNumber,
        fingerprint256: peer.fingerprint256,
        notAfter: peer.notAfter,
      });
    }
  });
  // Runs for hijacked (streamed) replies too, once their raw response finishes.
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, status: reply.statusCode });
    metrics.requestDuration.observe({ route }, reply.elapsedTime / 1000);
  });

  app.setNotFoundHandler((_request, reply) => sendError(reply, new IngressError('route_not_found')));
  app.setErrorHandler((err, request, reply) => {
    const zt = toZtError(err);
    logRefusal(request, zt);
    return sendError(reply, zt);
  });

  const logRefusal = (request: FastifyRequest, zt: ZtError): void => {
    const level = zt.status >= 500 ? 'error' : 'info';
    request.log[level](
      { code: zt.code, status: zt.status, stage: zt.stage, detail: zt.logDetail, cause: causeMessage(zt) },
      'request refused',
    );
  };

  const newContext = (request: FastifyRequest, modelRequest: ModelRequest): RequestContext => ({
    id: request.id,
    startedAt: performance.now(),
    receivedAt: Date.now(),
    request: modelRequest,
    promptSha256: (request as ReceivedRequest).promptSha256 ?? '',
    ...((request as ReceivedRequest).rawBody ? { rawBody: (request as ReceivedRequest).rawBody } : {}),
    credentials: credentialsOf(request.headers, request.ip, clientCertificates.get(request.raw)),
    findings: [],
    transformations: [],
  });

  /** Maps, records and logs a refusal; the caller writes the response. */
  const refusal = (request: FastifyRequest, ctx: RequestContext, err: unknown): ZtError => {
    const zt = toZtError(err);
    pipeline.refused(ctx, zt);
    logRefusal(request, zt);
    return zt;
  };

  const complete = async (request: FastifyRequest, reply: FastifyReply, ctx: RequestContext) => {
    try {
      const payload = await pipeline.complete(ctx, clientGone(reply));
      request.log.info(
        { principal: ctx.principal?.id, model: ctx.route?.modelId, status: 200 },
        'request served',
      );
      return reply.type('application/json').send(payload);
    } catch (err) {
      return sendError(reply, refusal(request, ctx, err));
    }
  };

  app.post(
    '/v1/chat/completions',
    { schema: { body: chatCompletionSchema(limits.messages) } },
    async (request, reply) => {
      const body = request.body as ChatRequest;
      const ctx = newContext(request, { route: 'chat.completions', body });
      if (body.stream !== true) return complete(request, reply, ctx);

      const signal = clientGone(reply);
      const sink = createSseSink(reply.raw, request.id, signal);
      try {
        reply.hijack();
        await pipeline.stream(ctx, sink);
        request.log.info(
          { principal: ctx.principal?.id, model: ctx.route?.modelId, stream: true },
          'stream served',
        );
      } catch (err) {
        // Refused before the head was sent: an ordinary error response.
        const zt = refusal(request, ctx, err);
        if (!reply.raw.headersSent) {
          reply.raw.writeHead(zt.status, { 'content-type': 'application/json', 'x-request-id': request.id });
          reply.raw.end(JSON.stringify(errorBody(zt)));
        } else if (!reply.raw.writableEnded) {
          reply.raw.end();
        }
      }
    },
  );

  app.post('/v1/embeddings', { schema: { body: embeddingsSchema() } }, async (request, reply) => {
    const body = request.body as EmbeddingsRequest;
    return complete(request, reply, newContext(request, { route: 'embeddings', body }));
  });

  // A model on attested runtimes shows what its runtime proved now; `dev` evidence is labelled insecure.
  const runtimeOf = options.runtimeOf;
  const runtimeField = (m: CatalogueModel): object => {
    const proved = runtimeOf?.(m.upstream);
    if (!proved) return {};
    const insecure = proved.attestationKind === 'dev';
    return {
      ztgate_runtime: {
        attested: proved.attested,
        attestation: proved.attestationKind,
        ...(insecure
          ? { insecure: true, note: 'dev evidence: no hardware root vouches for this runtime' }
          : {}),
      },
    };
  };
  const modelList = (): string =>
    JSON.stringify({
      object: 'list',
      data: models.map((m) => ({
        id: m.id,
        object: 'model',
        created: 0,
        owned_by: m.demo ? 'ztgate-demo' : 'ztgate',
        ...(m.demo ? { demo: true, description: 'DEMO model: answers by describing what it received.' } : {}),
        ...(m.description && !m.demo ? { description: m.description } : {}),
        ...runtimeField(m),
      })),
    });
  const staticList = runtimeOf ? undefined : modelList();

  // A held tool call (docs/RESPONSE.md): the client that received the approval id asks again;
  // approved, it gets the tool call; otherwise its status. Another caller learns nothing.
  const claim = options.claimApproval;
  if (claim) {
    app.get('/v1/ztgate/approvals/:id', async (request, reply) => {
      const ctx = newContext(request, { route: 'chat.completions', body: { model: '', messages: [] } });
      try {
        await pipeline.authenticate(ctx);
        const id = (request.params as { id: string }).id;
        const answer = await claim(id, ctx);
        if (!answer) throw new ZtError('approval_not_found', 'ingress');
        return await reply.type('application/json').send(answer);
      } catch (err) {
        const zt = toZtError(err);
        logRefusal(request, zt);
        return sendError(reply, zt);
      }
    });
  }

  app.get('/v1/models', async (request, reply) => {
    const ctx = newContext(request, { route: 'chat.completions', body: { model: '', messages: [] } });
    try {
      await pipeline.authenticate(ctx);
    } catch (err) {
      const zt = toZtError(err);
      logRefusal(request, zt);
      return sendError(reply, zt);
    }
    return reply.type('application/json').send(staticList ?? modelList());
  });

  return app;
}

function causeMessage(err: ZtError): string | undefined {
  const cause = err.cause;
  if (cause === undefined) return undefined;
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}
