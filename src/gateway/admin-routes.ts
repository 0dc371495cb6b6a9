import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ZtgateConfig } from '../config/index.js';
import type { ConsoleServer } from '../console/server.js';
import type { AuditEntry } from '../core/index.js';
import type { KeyManager } from '../keys/index.js';
import type { MeshServerTls } from '../mesh/index.js';
import type { Store } from '../store/index.js';
import { createAdminAuthorization } from './admin-auth.js';
import { createAdminBearer } from './admin-bearer.js';
import { registerAdminOperations } from './admin-operations.js';
import { registerAdminPolicy } from './admin-policy.js';
import { registerAdminPolicyCandidates } from './admin-policy-candidates.js';
import { registerAdminResponse } from './admin-response.js';
import type { ApprovalService } from './approval-service.js';
import type { IdentityService } from './identity-service.js';
import type { LedgerService } from './ledger-service.js';
import { registerOpenApi } from './openapi.js';
import type { PolicyService } from './policy-service.js';
import type { RuntimeTrustService } from './runtime-trust-service.js';
import type { WatchService } from './watch-service.js';

/**
 * Every route of the admin API and the console on the admin listener. Who calls: an mTLS peer,
 * else an OIDC bearer token, else a console session (cookie + CSRF); the live bundle decides
 * each route's Cedar action for whichever it is.
 */
export async function registerAdminRoutes(
  app: FastifyInstance,
  p: {
    readonly config: ZtgateConfig;
    readonly tls: MeshServerTls | undefined;
    readonly console: ConsoleServer;
    readonly identity: IdentityService;
    readonly ledger: Pick<LedgerService, 'adminRoutes'>;
    readonly policy: PolicyService;
    readonly store: Store;
    readonly keys: KeyManager;
    readonly watch: WatchService;
    readonly approvals: ApprovalService;
    readonly runtimeTrust: RuntimeTrustService | undefined;
    readonly audit: (entry: AuditEntry) => Promise<unknown>;
    readonly logger: Logger;
  },
): Promise<void> {
  const { logger, audit } = p;
  // The console's session hook first: admin scopes registered after it see its principals.
  await p.console.register(app);
  const bearer = createAdminBearer(p.identity.authenticator);
  bearer.install(app);
  const authorize = createAdminAuthorization(
    p.tls,
    p.policy,
    logger,
    audit,
    (request) => bearer.principalOf(request) ?? p.console.principalOf(request),
  );
  const onError = (err: unknown) =>
    logger.error({ err: err instanceof Error ? err.message : String(err) }, 'admin API');
  await p.identity.adminRoutes(app, authorize);
  await p.ledger.adminRoutes(app, authorize);
  await registerAdminPolicy(app, p.policy, authorize, onError);
  registerOpenApi(app);
  await registerAdminPolicyCandidates(app, { ledger: p.store.audit, authorize, audit, onError });
  await registerAdminResponse(app, {
    watch: p.watch,
    approvals: p.approvals,
    records: p.store.records,
    authorize,
    audit,
    onError,
  });
  await registerAdminOperations(app, {
    config: p.config,
    ...(p.runtimeTrust ? { runtimeTrust: p.runtimeTrust } : {}),
    runtimeDisabled: p.watch.runtimeDisabled,
    keys: p.keys,
    authorize,
    audit,
    onError,
  });
}
