// Admin API for what operators look after: model runtimes and their attestation, and keys.
import type { FastifyInstance } from 'fastify';
import type { ZtgateConfig } from '../config/index.js';
import type { AuditEntry } from '../core/index.js';
import type { KeyManager } from '../keys/index.js';
import { AdminRefusal, COMMON_ADMIN_ERRORS, registerAdminScope, type AdminError } from './admin-api.js';
import type { AdminAuthorization } from './admin-auth.js';
import { controlAuditEntry } from './control-audit.js';
import type { ControlAction } from './policy-service.js';
import type { RuntimeTrustService } from './runtime-trust-service.js';

type Code =
  | keyof typeof COMMON_ADMIN_ERRORS
  | 'key_not_found'
  | 'key_rotation_failed'
  | 'key_version_not_found'
  | 'key_version_in_use'
  | 'key_destroy_failed';
const ERRORS: Readonly<Record<Code, AdminError>> = {
  ...COMMON_ADMIN_ERRORS,
  key_not_found: { status: 404, type: 'not_found_error', message: 'No such key.' },
  key_rotation_failed: { status: 503, type: 'api_error', message: 'The key could not be rotated.' },
  key_version_not_found: { status: 404, type: 'not_found_error', message: 'No such key version.' },
  key_version_in_use: {
    status: 409,
    type: 'invalid_request_error',
    message: 'The primary version cannot be destroyed: rotate the key first.',
  },
  key_destroy_failed: { status: 503, type: 'api_error', message: 'The key version could not be destroyed.' },
};

const ROUTE_ACTIONS: Readonly<Record<string, ControlAction>> = {
  'GET /v1/runtimes': 'view_audit',
  'GET /v1/keys': 'manage_keys',
  'POST /v1/keys/:name/rotate': 'manage_keys',
  'POST /v1/keys/:name/versions/:version/destroy': 'manage_keys',
};

const KEY_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface AdminOperationsOptions {
  readonly config: ZtgateConfig;
  readonly runtimeTrust?: RuntimeTrustService;
  /** Whether an incident disabled the runtime (on every replica). */
  readonly runtimeDisabled?: (upstreamId: string) => boolean;
  readonly keys: KeyManager;
  readonly authorize: AdminAuthorization;
  readonly audit: (entry: AuditEntry) => Promise<unknown>;
  readonly onError: (err: unknown) => void;
}

export async function registerAdminOperations(
  app: FastifyInstance,
  o: AdminOperationsOptions,
): Promise<void> {
  await registerAdminScope(
    app,
    {
      errors: ERRORS,
      authorize: (request) => {
        const action = ROUTE_ACTIONS[`${request.method} ${request.routeOptions.url ?? ''}`];
        return action ? o.authorize(request, action) : false;
      },
      onError: o.onError,
    },
    (scope, api) => {
      scope.get('/v1/runtimes', async (_request, reply) => {
        const runtimes = Object.entries(o.config.upstreams).map(([id, u]) => {
          const base = {
            id,
            baseUrl: u.baseUrl,
            region: u.region ?? null,
            disabled: o.runtimeDisabled?.(id) ?? false,
          };
          const trust = o.runtimeTrust?.trust;
          if (!u.attestation || !trust?.governs(id)) return { ...base, attestation: 'none' as const };
          const status = trust.status(id);
          const reference = trust.reference(id);
          return {
            ...base,
            attestation: u.attestation.kind,
            freshnessMs: u.attestation.freshness,
            approvedMeasurements: reference?.measurements ?? [],
            ...(status.eligible
              ? {
                  eligible: true,
                  attested: status.verdict.hardware,
                  ...(status.verdict.hardware ? {} : { insecure: true }),
                  measurement: status.verdict.measurement,
                  attestationId: status.verdict.attestationId,
                  verifiedAt: new Date(status.verdict.verifiedAt).toISOString(),
                  expiresAt: new Date(status.verdict.expiresAt).toISOString(),
                }
              : { eligible: false, attested: false, reason: status.reason }),
          };
        });
        return reply.send({ runtimes });
      });

      scope.get('/v1/keys', async (_request, reply) => {
        const keys = await o.keys.listKeys();
        return reply.send({ provider: o.keys.provider.kind, keys });
      });

      scope.post('/v1/keys/:name/rotate', async (request, reply) => {
        const { name } = request.params as { name: string };
        if (!KEY_NAME.test(name)) throw new AdminRefusal<Code>('key_not_found');
        const actor = api.actorOf(request);
        const known = (await o.keys.listKeys()).some((k) => k.name === name);
        if (!known) throw new AdminRefusal<Code>('key_not_found');
        try {
          const key = await o.keys.rotateKey(name, actor);
          return reply.send({ key });
        } catch (err) {
          o.onError(err);
          await o
            .audit(
              controlAuditEntry({
                action: 'key.rotate',
                target: `key:${name}`,
                actor,
                authMethod: 'admin',
                outcome: 'failed',
                errorCode: 'key_rotation_failed',
              }),
            )
            .catch(() => undefined);
          return api.send(reply, 'key_rotation_failed');
        }
      });

      // Crypto-shredding: whatever only this version protects becomes unreadable, for good.
      scope.post('/v1/keys/:name/versions/:version/destroy', async (request, reply) => {
        const { name, version } = request.params as { name: string; version: string };
        if (!KEY_NAME.test(name) || !/^[1-9][0-9]{0,8}$/.test(version))
          throw new AdminRefusal<Code>('key_version_not_found');
        const actor = api.actorOf(request);
        const key = (await o.keys.listKeys()).find((k) => k.name === name);
        const v = Number(version);
        if (!key || !key.versions.some((x) => x.version === v))
          throw new AdminRefusal<Code>('key_version_not_found');
        if (key.primaryVersion === v) throw new AdminRefusal<Code>('key_version_in_use');
        try {
          return reply.send({ key: await o.keys.destroyVersion({ name, version: v }, actor) });
        } catch (err) {
          o.onError(err);
          return api.send(reply, 'key_destroy_failed');
        }
      });
    },
  );
}
