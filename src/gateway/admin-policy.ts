import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import { AdminRefusal, COMMON_ADMIN_ERRORS, registerAdminScope, type AdminError } from './admin-api.js';
import type { AdminAuthorization } from './admin-auth.js';
import type { PolicyService } from './policy-service.js';

type AdminPolicyErrorCode = keyof typeof COMMON_ADMIN_ERRORS | 'policy_bundle_refused';

const ERRORS: Readonly<Record<AdminPolicyErrorCode, AdminError>> = {
  ...COMMON_ADMIN_ERRORS,
  policy_bundle_refused: {
    status: 422,
    type: 'invalid_request_error',
    message: 'The candidate bundle was refused; the running bundle keeps serving.',
  },
};

function limitOf(query: unknown): number {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>;
  for (const key of Object.keys(q)) if (key !== 'limit') throw new AdminRefusal('invalid_query', key);
  if (q.limit === undefined) return 100;
  if (typeof q.limit !== 'string' || !/^[1-9][0-9]{0,3}$/.test(q.limit) || Number(q.limit) > 1000)
    throw new AdminRefusal('invalid_query', 'limit');
  return Number(q.limit);
}

/**
 * The policy admin API: `GET /admin/policy` (the running bundles: digest, source, signature,
 * tests, last reload; action `view_audit`), `POST /admin/policy/reload` (reload on this and
 * every replica; `manage_policy`; 422 `policy_bundle_refused` with the refusal code when a
 * candidate was refused) and `GET /admin/policy/shadow?limit=` (the latest shadow
 * differences; `view_audit`). Every action is authorised by the policy engine.
 */
export async function registerAdminPolicy<Logger extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>,
  policy: PolicyService,
  auth: AdminAuthorization,
  onError: (err: unknown) => void,
): Promise<void> {
  await registerAdminScope(
    app,
    {
      errors: ERRORS,
      authorize: (request) => auth(request, request.method === 'POST' ? 'manage_policy' : 'view_audit'),
      onError,
    },
    (scope, api) => {
      scope.get('/admin/policy', async (_request, reply) => reply.send(policy.status()));
      scope.get('/admin/policy/shadow', async (request, reply) =>
        reply.send({ differences: policy.shadowDifferences(limitOf(request.query)) }),
      );
      scope.post('/admin/policy/reload', { bodyLimit: 1024 }, async (request, reply) => {
        const result = await policy.reload('admin', api.actorOf(request));
        const refused = [result.live, result.shadow].find((o) => o?.outcome === 'rejected');
        if (refused?.outcome === 'rejected')
          return api.send(reply, 'policy_bundle_refused', refused.code, { result: publicResult(result) });
        return reply.send({ result: publicResult(result) });
      });
    },
  );
}

/** What a client sees of a reload: outcomes, digests and refusal codes, never the refusal text. */
function publicResult(result: Awaited<ReturnType<PolicyService['reload']>>): object {
  const strip = (o: (typeof result)['live']) =>
    o.outcome === 'rejected' ? { outcome: o.outcome, code: o.code, digest: o.digest } : o;
  return { live: strip(result.live), ...(result.shadow ? { shadow: strip(result.shadow) } : {}) };
}
