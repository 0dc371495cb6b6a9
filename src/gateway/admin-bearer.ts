// Admin OIDC tokens: on the admin listener, a caller without an mTLS client certificate may
// present `Authorization: Bearer <token>` from a configured issuer. The token is verified exactly
// as on the data plane (signature, issuer, audience, expiry, revocation); its principal, with the
// roles its claims carry, is what policy decides each admin action for (`ztgate-admin` in the
// default bundle). A token that does not verify leaves the request without an identity (401).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthenticateStage } from '../core/index.js';
import type { PolicyPrincipal } from '../policy/index.js';

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export interface AdminBearer {
  /** The verified bearer principal of a request (after the hook ran). */
  principalOf(request: FastifyRequest): PolicyPrincipal | undefined;
  /** Adds the hook that verifies bearer tokens before any admin route runs. */
  install(app: FastifyInstance): void;
}

export function createAdminBearer(authenticate: AuthenticateStage): AdminBearer {
  const principals = new WeakMap<FastifyRequest, PolicyPrincipal>();
  return {
    principalOf: (request) => principals.get(request),
    install: (app) => {
      app.addHook('onRequest', async (request) => {
        const header = request.headers.authorization;
        const bearer = typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined;
        if (!bearer) return;
        try {
          const who = await authenticate({
            requestId: randomUUID(),
            credentials: { bearer, headers: request.headers, remoteAddress: request.ip },
          });
          principals.set(request, who.principal);
        } catch {
          // No identity: the admin route answers 401 admin_unauthenticated.
        }
      });
    },
  };
}
