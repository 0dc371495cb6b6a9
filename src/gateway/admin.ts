import Fastify, { LogController } from 'fastify';
import type { Logger } from 'pino';
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
}

/**
 * The admin listener (bound to loopback by default): liveness, readiness of every pipeline
 * dependency, and Prometheus metrics. The admin API and console join it in later issues.
 */
export async function createAdminPlane(options: AdminOptions) {
  const { metrics, checks, logger } = options;
  const timeoutMs = options.checkTimeoutMs ?? 2000;
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
  });

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

  return app;
}
