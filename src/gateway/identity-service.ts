import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { IssuerConfig, ZtgateConfig } from '../config/index.js';
import { createAuthenticator, type Authenticator } from '../identity/index.js';
import { ApiKeyVerifier } from '../identity/api-keys.js';
import { RevocationList } from '../identity/revocation-list.js';
import type { StateBus, Store } from '../store/index.js';
import type { AdminAuthorization } from './admin-auth.js';
import { registerAdminRevocations } from './admin-revocations.js';
import type { ReadinessCheck } from './admin.js';

export interface IdentityServiceOptions {
  readonly config: ZtgateConfig;
  /** The configured issuers plus the demo issuer in demo mode. */
  readonly issuers: readonly IssuerConfig[];
  readonly store: Store;
  /** The shared revocation list (openRevocations), started. */
  readonly revocations: RevocationList;
  readonly logger: Logger;
}

export interface IdentityService {
  readonly authenticator: Authenticator;
  readonly revocations: RevocationList;
  readonly checks: readonly ReadinessCheck[];
  /** The admin API for revocations; callers are the admin listener's mTLS peers (SPIFFE IDs). */
  adminRoutes(app: FastifyInstance, authorize: AdminAuthorization): Promise<void>;
  close(): Promise<void>;
}

/**
 * Everything the authenticate stage needs: the shared revocation list (StateBus), service API keys
 * (Store), device posture and client-certificate identities per config. A revocation wherever it
 * is made evicts cached credentials here at once; the list itself is asked on every request.
 */
export function openIdentityService(options: IdentityServiceOptions): IdentityService {
  const { config, store, revocations, logger } = options;
  const identity = config.identity;
  const apiKeys = identity.apiKeys.enabled
    ? new ApiKeyVerifier({
        repository: store.apiKeys,
        revocations,
        cacheTtlMs: identity.apiKeys.cacheTtlMs,
        cacheSize: identity.apiKeys.cacheSize,
        onTouchError: (err) =>
          logger.warn(
            { err: err instanceof Error ? err.message : String(err) },
            'api key last-use not recorded',
          ),
      })
    : undefined;
  const tls = config.server.tls;
  const authenticator = createAuthenticator({
    issuers: options.issuers,
    maxTokenBytes: identity.maxTokenBytes,
    tokenCacheSize: identity.tokenCacheSize,
    jwksTimeoutMs: identity.jwksTimeoutMs,
    devicePosture: identity.devicePosture,
    // A replica that has not heard from the bus for a while may miss revocations: it refuses
    // (503 authentication_unavailable) rather than serve on a stale list.
    isRevoked: (who) => {
      revocations.assertFresh();
      return revocations.isRevoked(who);
    },
    ...(apiKeys ? { apiKeys } : {}),
    ...(config.mesh.enabled && tls ? { clientCertificates: { allowedSpiffeIds: tls.allowedSpiffeIds } } : {}),
  });
  const stopListening = revocations.onRevoked((r) => {
    if (r.kind === 'apikey') apiKeys?.evict(r.value);
    else if (r.kind === 'subject') authenticator.evict({ subject: r.value });
    else if (r.kind === 'session') authenticator.evict({ sessionId: r.value });
    else if (r.kind === 'token') authenticator.evict({ tokenHash: r.value });
    else if (r.kind === 'jti') authenticator.evict({ jti: r.value });
  });
  return {
    authenticator,
    revocations,
    checks: [{ name: 'revocations', check: async () => revocations.assertFresh() }],
    adminRoutes: (app, authorize) =>
      registerAdminRevocations(app, {
        revocations,
        authorize: (request) => authorize(request, 'manage_identity'),
        audit: async (entry) => {
          await store.audit.append(entry);
        },
        onError: (err, during) =>
          logger.error({ during, err: err instanceof Error ? err.message : String(err) }, 'admin revocation'),
      }),
    close: async () => stopListening(),
  };
}

/**
 * Starts the revocation list shared by every replica through the StateBus (tokens, subjects,
 * sessions, devices, API keys, certificate serials). A bus that cannot be read stops the start.
 */
export async function openRevocations(
  config: ZtgateConfig,
  bus: StateBus,
  logger: Logger,
): Promise<RevocationList> {
  const settings = config.identity.revocation;
  const revocations = new RevocationList({
    bus,
    defaultTtlMs: settings.defaultTtl,
    maxTtlMs: settings.maxTtl,
    resyncIntervalMs: settings.resyncIntervalMs,
    onError: (err, during) =>
      logger.error({ during, err: err instanceof Error ? err.message : String(err) }, 'revocation list'),
  });
  await revocations.start();
  return revocations;
}
