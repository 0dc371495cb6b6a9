import { createServer as createHttpsServer } from 'node:https';
import Fastify, { LogController, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import type { Logger } from 'pino';
import type { MeshServerTls } from '../mesh/index.js';
import type { GatewayMetrics } from './metrics.js';

/** A dependency of the pipeline that /readyz asks; it throws when the dependency does not answer. */
export interface ReadinessCheck {
  readonly name: string;
  check(signal: AbortSignal): Promise<void>;
}

export interface AdminOptions {
  readonly metrics: GatewayMetrics;
  readonly checks: readonly ReadinessCheck[];
  readonly logger: Logger;
  readonly checkTimeoutMs?: number;
  /**
   * Mutual TLS (`server.adminTls`): the listener presents the gateway's SVID and closes every
   * connection whose client SVID the mesh does not verify and allow (docs/MESH.md).
   */
  readonly tls?: MeshServerTls;
  /** Registers further admin routes (the admin API) before the listener starts. */
  readonly routes?: (app: FastifyInstance) => Promise<void>;
}

/**
 * The admin listener (bound to loopback by default): liveness, readiness of every pipeline
 * dependency, and Prometheus metrics. The admin API and console join it in later issues.
 */
export async function createAdminPlane(options: AdminOptions) {
  const { metrics, checks, logger } = options;
  const timeoutMs = options.checkTimeoutMs ?? 2000;
  const tls = options.tls;
  const serverFactory: FastifyServerFactory | undefined = tls
    ? (handler) => {
        const server = createHttpsServer(tls.tlsOptions, handler);
        tls.attach(server);
        return server;
      }
    : undefined;
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    ...(serverFactory ? { serverFactory } : {}),
  });
  if (tls) {
    // Each request re-checks its connection's client (revoked or expired since the handshake?).
    app.addHook('onRequest', async (request, reply) => {
      try {
        tls.peerOf(request.raw.socket);
      } catch {
        // peerOf closed the connection and reported why.
        return reply.hijack();
      }
    });
  }

  app.get('/healthz', async (_request, reply) => reply.send({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      checks.map(async (c) => {
        try {
          const signal = AbortSignal.timeout(timeoutMs);
          await Promise.race([
            c.check(signal),
            new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
          ]);
          return [c.name, 'ok'] as const;
        } catch (err) {
          logger.warn(
            { check: c.name, err: err instanceof Error ? err.message : String(err) },
            'readiness check failed',
          );
          return [c.name, 'failing'] as const;
        }
      }),
    );
    const ready = results.every(([, state]) => state === 'ok');
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) });
  });

  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  if (options.routes) await options.routes(app as unknown as FastifyInstance);

  return app;
}
