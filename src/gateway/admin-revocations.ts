import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { AuditEntry } from '../core/index.js';
import {
  checkReason,
  checkTarget,
  isRevocationKind,
  RevocationInputRefused,
  revocationTarget,
  type Revocation,
  type RevocationKind,
} from '../identity/revocation-kinds.js';
import type { RevocationList } from '../identity/revocation-list.js';
import {
  AdminRefusal,
  COMMON_ADMIN_ERRORS,
  registerAdminScope,
  type AdminAuthorizer,
  type AdminError,
} from './admin-api.js';
import { controlAuditEntry } from './control-audit.js';

export type { AdminAuthorizer } from './admin-api.js';

export interface AdminRevocationsOptions {
  readonly revocations: Pick<RevocationList, 'revoke' | 'list'>;
  readonly authorize: AdminAuthorizer;
  /** Appends an audit entry; must resolve only once it is stored. */
  readonly audit: (entry: AuditEntry) => Promise<void>;
  /** Told of failures (revocations that could not be stored, audit rows that could not be written). */
  readonly onError?: (err: unknown, during: 'revoke' | 'audit') => void;
}

/** Stable codes of this API's refusals. */
export type AdminRevocationErrorCode =
  | keyof typeof COMMON_ADMIN_ERRORS
  | 'invalid_body'
  | 'invalid_kind'
  | 'invalid_value'
  | 'invalid_reason'
  | 'invalid_ttl'
  | 'revocation_unavailable'
  | 'audit_failed';

const ERRORS: Readonly<Record<AdminRevocationErrorCode, AdminError>> = {
  ...COMMON_ADMIN_ERRORS,
  invalid_body: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The body must be a JSON object with kind, value, and optionally reason and ttlSeconds.',
  },
  invalid_kind: { status: 400, type: 'invalid_request_error', message: 'kind is not a revocation kind.' },
  invalid_value: { status: 400, type: 'invalid_request_error', message: 'value is not valid for this kind.' },
  invalid_reason: {
    status: 400,
    type: 'invalid_request_error',
    message: 'reason must be printable text of at most 500 characters.',
  },
  invalid_ttl: {
    status: 400,
    type: 'invalid_request_error',
    message: 'ttlSeconds must be a whole number of seconds within the allowed range.',
  },
  revocation_unavailable: { status: 503, type: 'api_error', message: 'The revocation could not be stored.' },
  audit_failed: {
    status: 500,
    type: 'api_error',
    message: 'The revocation is in effect but could not be recorded in the audit log.',
  },
};

const BODY_FIELDS = new Set(['kind', 'value', 'reason', 'ttlSeconds']);
const BODY_LIMIT = 16 * 1024;

class Refusal extends AdminRefusal<AdminRevocationErrorCode> {}

/** Checks the POST body strictly: an object with only known fields, each of the right type. */
function checkBody(body: unknown): {
  kind: RevocationKind;
  value: string;
  reason: string;
  ttlMs: number | undefined;
} {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Refusal('invalid_body');
  const o = body as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!BODY_FIELDS.has(key)) throw new Refusal('invalid_body', key);
  try {
    const target = checkTarget(o.kind, o.value);
    const reason = checkReason(o.reason);
    const ttl = o.ttlSeconds;
    if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 1)) {
      throw new Refusal('invalid_ttl', 'ttlSeconds');
    }
    return { ...target, reason, ttlMs: ttl === undefined ? undefined : ttl * 1000 };
  } catch (err) {
    if (err instanceof RevocationInputRefused) throw new Refusal(err.code, paramOf(err.code));
    throw err;
  }
}

function paramOf(code: string): string {
  return code === 'invalid_ttl' ? 'ttlSeconds' : code.replace(/^invalid_/, '');
}

function checkQuery(query: unknown): { kind?: RevocationKind; limit: number } {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>;
  for (const key of Object.keys(q))
    if (key !== 'kind' && key !== 'limit') throw new Refusal('invalid_query', key);
  if (q.kind !== undefined && !isRevocationKind(q.kind)) throw new Refusal('invalid_query', 'kind');
  let limit = 1000;
  if (q.limit !== undefined) {
    if (typeof q.limit !== 'string' || !/^[1-9][0-9]{0,3}$/.test(q.limit) || Number(q.limit) > 1000) {
      throw new Refusal('invalid_query', 'limit');
    }
    limit = Number(q.limit);
  }
  return { ...(q.kind === undefined ? {} : { kind: q.kind as RevocationKind }), limit };
}

/**
 * Registers `POST /admin/revocations` (JSON `{kind, value, reason?, ttlSeconds?}`; 201 with the
 * revocation) and `GET /admin/revocations` (`?kind=&limit=`; live revocations, newest first) on
 * `app`, in a scope of their own: every request is authorized before its body is read, every
 * revocation is audited (action `revoke.<kind>`, never a raw token), and every refusal has a
 * stable code in `{"error": {"message", "type", "code", "param"}}`.
 */
export async function registerAdminRevocations<Logger extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>,
  options: AdminRevocationsOptions,
): Promise<void> {
  const onError = options.onError ?? (() => undefined);
  await registerAdminScope(
    app,
    { errors: ERRORS, authorize: options.authorize, onError: (err) => onError(err, 'revoke') },
    (scope, api) => {
      scope.get('/admin/revocations', async (request, reply) => {
        const { kind, limit } = checkQuery(request.query);
        const revocations = options.revocations.list({ ...(kind ? { kind } : {}), limit });
        return reply.send({ revocations });
      });

      scope.post('/admin/revocations', { bodyLimit: BODY_LIMIT }, async (request, reply) => {
        const actor = api.actorOf(request);
        const input = checkBody(request.body);
        const target = revocationTarget(input.kind, input.value);
        const details = input.reason ? [`reason:${input.reason}`] : [];
        const entry = (outcome: 'ok' | 'failed', errorCode?: string) =>
          controlAuditEntry({
            action: `revoke.${input.kind}`,
            target,
            actor,
            authMethod: 'admin',
            outcome,
            details,
            ...(errorCode ? { errorCode } : {}),
          });
        let revocation: Revocation;
        try {
          revocation = await options.revocations.revoke({
            kind: input.kind,
            value: input.value,
            reason: input.reason,
            actor,
            ...(input.ttlMs === undefined ? {} : { ttlMs: input.ttlMs }),
          });
        } catch (err) {
          if (err instanceof RevocationInputRefused) throw new Refusal(err.code, paramOf(err.code));
          onError(err, 'revoke');
          await options
            .audit(entry('failed', 'revocation_unavailable'))
            .catch((e: unknown) => onError(e, 'audit'));
          return api.send(reply, 'revocation_unavailable');
        }
        try {
          await options.audit(entry('ok'));
        } catch (err) {
          onError(err, 'audit');
          return api.send(reply, 'audit_failed', undefined, { revocation });
        }
        return reply.code(201).send({ revocation });
      });
    },
  );
}
