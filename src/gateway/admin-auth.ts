import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { MeshServerTls } from '../mesh/index.js';
import type { AuditEntry } from '../core/index.js';
import type { ControlContext, PolicyPrincipal } from '../policy/index.js';
import { controlAuditEntry } from './control-audit.js';
import type { ControlAction, PolicyService } from './policy-service.js';

/** The role an admin listener peer holds in the policy context (docs/POLICY.md). */
export const ADMIN_PEER_ROLE = 'ztgate-admin';

/**
 * Authorises an admin request for a control-plane action: the caller's identity (recorded as
 * the actor), `undefined` (401) without one, or `false` (403) when the policy engine denies.
 */
export type AdminAuthorization = (
  request: FastifyRequest,
  action: ControlAction,
  control?: ControlContext,
) => string | undefined | false;

/**
 * Admin callers are mTLS peers the admin listener verified and allowed
 * (`server.adminAllowedSpiffeIds`), each a `ServiceAccount` named by its SPIFFE ID with the role
 * `ztgate-admin`; or, without a client certificate, bearers of an OIDC token from a configured
 * issuer (admin-bearer.ts), with the roles their token carries. The live bundle decides every
 * action either asks for; a caller with neither identity gets 401.
 */
/** The admin listener's caller as a policy principal (an mTLS peer), or undefined. */
export type AdminPrincipalOf = (request: FastifyRequest) => PolicyPrincipal | undefined;

export function createAdminPrincipalOf(
  tls: MeshServerTls | undefined,
  bearer?: AdminPrincipalOf,
): AdminPrincipalOf {
  return (request) => {
    let spiffeId: string | undefined;
    if (tls) {
      try {
        spiffeId = tls.peerOf(request.raw.socket)?.spiffeId.id;
      } catch {
        return undefined;
      }
    }
    if (spiffeId) return { kind: 'service', id: spiffeId, roles: [ADMIN_PEER_ROLE], groups: [] };
    return bearer?.(request);
  };
}

export function createAdminAuthorization(
  tls: MeshServerTls | undefined,
  policy: Pick<PolicyService, 'authorizeControl'>,
  logger: Logger,
  audit: (entry: AuditEntry) => Promise<unknown>,
  bearer?: AdminPrincipalOf,
): AdminAuthorization {
  const principalOf = createAdminPrincipalOf(tls, bearer);
  return (request, action, control) => {
    const principal = principalOf(request);
    if (!principal) return undefined;
    const spiffeId = principal.id;
    const decision = policy.authorizeControl(principal, action, control);
    if (decision.effect === 'allow') return spiffeId;
    logger.warn(
      {
        actor: spiffeId,
        action,
        determiningPolicies: decision.determiningPolicies,
        errors: decision.errors,
        bundle: decision.bundleDigest,
      },
      'admin action denied by policy',
    );
    const entry = controlAuditEntry({
      action: `admin.${action}`,
      target: `admin:${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
      actor: spiffeId,
      authMethod: 'admin',
      outcome: 'failed',
      errorCode: 'admin_forbidden',
      details: decision.determiningPolicies.map((id) => `policy:${id}`),
    });
    void audit({ ...entry, decision: 'deny', status: 403, bundleDigest: decision.bundleDigest }).catch(
      (err: unknown) =>
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'admin denial not audited'),
    );
    return false;
  };
}
