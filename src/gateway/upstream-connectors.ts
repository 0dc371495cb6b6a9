import { resolveSecret, type UpstreamConfig } from '../config/index.js';
import type { UpstreamConnector } from '../core/index.js';
import type { Mesh } from '../mesh/index.js';
import { createConnector } from '../runtime/index.js';
import type { KeyService } from './key-service.js';

/** The connector of one configured upstream: its credential and CA resolved, mTLS when configured. */
export async function connectorFor(
  id: string,
  upstream: UpstreamConfig,
  home: string,
  env: Readonly<Record<string, string | undefined>>,
  keys: KeyService,
  mesh: Mesh | undefined,
): Promise<UpstreamConnector> {
  const apiKey = upstream.apiKey
    ? await resolveSecret(upstream.apiKey, `upstreams.${id}.apiKey`, home, env, keys.unseal)
    : undefined;
  const caPem = upstream.ca
    ? await resolveSecret(upstream.ca, `upstreams.${id}.ca`, home, env, keys.unseal)
    : undefined;
  return createConnector(upstream.kind, id, {
    baseUrl: upstream.baseUrl,
    ...(apiKey === undefined ? {} : { apiKey }),
    ...(caPem === undefined ? {} : { caPem }),
    authHeader: upstream.authHeader,
    extraHeaders: upstream.extraHeaders,
    connectTimeoutMs: upstream.timeouts.connectMs,
    headersTimeoutMs: upstream.timeouts.headersMs,
    bodyTimeoutMs: upstream.timeouts.bodyMs,
    totalTimeoutMs: upstream.timeouts.totalMs,
    retries: upstream.retries,
    maxConnections: upstream.maxConnections,
    ...(upstream.mtls && mesh
      ? {
          connect: mesh.client({
            spiffeIds: upstream.mtls.spiffeIds,
            connectTimeoutMs: upstream.timeouts.connectMs,
          }),
        }
      : {}),
  });
}

/** The regions upstreams name (residency: `route:region=…` chooses among a model's runtimes). */
export function upstreamRegions(config: {
  readonly upstreams: Readonly<Record<string, UpstreamConfig>>;
}): ReadonlyMap<string, string> {
  return new Map(Object.entries(config.upstreams).flatMap(([id, u]) => (u.region ? [[id, u.region]] : [])));
}
