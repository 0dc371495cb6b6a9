// The admin API of watch and respond: incidents, quarantines (release with four eyes), held tool
// calls, risk. Every route is authorised by the Cedar engine; releases and approvals are decided
// again with who acts and who already approved, so policy enforces four eyes.
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditEntry } from '../core/index.js';
import type { ControlRecordRepository } from '../store/index.js';
import { QUARANTINE_KINDS, QuarantineInputRefused, type QuarantineKind } from '../watch/quarantine-list.js';
import { AdminRefusal, COMMON_ADMIN_ERRORS, registerAdminScope, type AdminError } from './admin-api.js';
import type { AdminAuthorization } from './admin-auth.js';
import { ApprovalRefused, type ApprovalService, type ApprovalStatus } from './approval-service.js';
import { controlAuditEntry } from './control-audit.js';
import { IncidentRefused, type IncidentStatus } from './incident-service.js';
import type { ControlAction } from './policy-service.js';
import type { WatchService } from './watch-service.js';

type Code =
  | keyof typeof COMMON_ADMIN_ERRORS
  | 'invalid_body'
  | 'incident_not_found'
  | 'incident_transition'
  | 'incident_conflict'
  | 'quarantine_not_found'
  | 'approval_not_found'
  | 'approval_not_pending'
  | 'approval_conflict'
  | 'approval_expired'
  | 'four_eyes_required';

const ERRORS: Readonly<Record<Code, AdminError>> = {
  ...COMMON_ADMIN_ERRORS,
  invalid_body: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The request body is not valid for this route.',
  },
  incident_not_found: { status: 404, type: 'not_found_error', message: 'No such incident.' },
  incident_transition: {
    status: 409,
    type: 'invalid_request_error',
    message: 'The incident is not in a state that allows this.',
  },
  incident_conflict: {
    status: 409,
    type: 'api_error',
    message: 'The incident changed concurrently; try again.',
  },
  quarantine_not_found: {
    status: 404,
    type: 'not_found_error',
    message: 'No active quarantine for this target.',
  },
  approval_not_found: { status: 404, type: 'not_found_error', message: 'No such approval.' },
  approval_not_pending: {
    status: 409,
    type: 'invalid_request_error',
    message: 'The approval has already been decided.',
  },
  approval_conflict: {
    status: 409,
    type: 'api_error',
    message: 'The approval changed concurrently; try again.',
  },
  approval_expired: { status: 410, type: 'invalid_request_error', message: 'The approval has expired.' },
  four_eyes_required: {
    status: 403,
    type: 'permission_error',
    message: 'A second, different administrator must approve this release.',
  },
};

class Refusal extends AdminRefusal<Code> {}

/** The control action each route is authorised for before its body is read. */
const ROUTE_ACTIONS: Readonly<Record<string, ControlAction>> = {
  'GET /v1/incidents': 'view_audit',
  'GET /v1/incidents/:id': 'view_audit',
  'POST /v1/incidents/:id/acknowledge': 'respond_incident',
  'POST /v1/incidents/:id/resolve': 'respond_incident',
  'GET /v1/quarantines': 'view_audit',
  'POST /v1/quarantines': 'respond_incident',
  'POST /v1/quarantines/release': 'respond_incident',
  'GET /v1/approvals': 'view_audit',
  'GET /v1/approvals/:id': 'view_audit',
  'POST /v1/approvals/:id/approve': 'respond_incident',
  'POST /v1/approvals/:id/deny': 'respond_incident',
  'GET /v1/risk': 'view_audit',
  'GET /v1/playbooks': 'view_audit',
};

export interface AdminResponseOptions {
  readonly watch: WatchService;
  readonly approvals: ApprovalService;
  readonly records: ControlRecordRepository;
  readonly authorize: AdminAuthorization;
  readonly audit: (entry: AuditEntry) => Promise<unknown>;
  readonly onError: (err: unknown) => void;
}

const PRINTABLE = /^[^\p{Cc}\p{Cs}]{1,500}$/u;

function objectBody(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new Refusal('invalid_body');
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new Refusal('invalid_body', k);
  return o;
}

function optionalText(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !PRINTABLE.test(v)) throw new Refusal('invalid_body', key);
  return v;
}

/**
 * A quarantine target; for releases also `runtime` (an upstream an incident disabled) and
 * `approval` (a principal whose tool calls a playbook put under approval).
 */
function target(
  o: Record<string, unknown>,
  allowRuntime = false,
): { kind: QuarantineKind | 'runtime' | 'approval'; id: string } {
  const kind = o.kind;
  const id = o.id;
  const kinds: readonly string[] = allowRuntime
    ? [...QUARANTINE_KINDS, 'runtime', 'approval']
    : QUARANTINE_KINDS;
  if (typeof kind !== 'string' || !kinds.includes(kind)) throw new Refusal('invalid_body', 'kind');
  if (typeof id !== 'string' || !PRINTABLE.test(id)) throw new Refusal('invalid_body', 'id');
  return { kind: kind as QuarantineKind | 'runtime' | 'approval', id };
}

function limitOf(q: Record<string, unknown>): number {
  if (q.limit === undefined) return 100;
  if (typeof q.limit !== 'string' || !/^[1-9][0-9]{0,3}$/.test(q.limit) || Number(q.limit) > 1000)
    throw new Refusal('invalid_query', 'limit');
  return Number(q.limit);
}

function query(request: FastifyRequest, allowed: readonly string[]): Record<string, unknown> {
  const q = (request.query ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(q)) if (!allowed.includes(k)) throw new Refusal('invalid_query', k);
  return q;
}

function rethrow(err: unknown): never {
  if (err instanceof IncidentRefused || err instanceof ApprovalRefused) throw new Refusal(err.code);
  if (err instanceof QuarantineInputRefused) throw new Refusal('invalid_body', err.code);
  throw err;
}

const releaseId = (t: { kind: string; id: string }): string =>
  `rel-${createHash('sha256').update(`${t.kind}\0${t.id}`).digest('hex').slice(0, 40)}`;

export async function registerAdminResponse<Logger extends FastifyBaseLogger>(
  app: FastifyInstance<never, never, never, Logger> | FastifyInstance,
  o: AdminResponseOptions,
): Promise<void> {
  const { watch, approvals } = o;
  await registerAdminScope(
    app as FastifyInstance,
    {
      errors: ERRORS,
      authorize: (request) => {
        const action = ROUTE_ACTIONS[`${request.method} ${request.routeOptions.url ?? ''}`];
        return action ? o.authorize(request, action) : false;
      },
      onError: o.onError,
    },
    (scope, api) => {
      scope.get('/v1/incidents', async (request, reply) => {
        const q = query(request, ['status', 'subject', 'limit']);
        const status = q.status;
        if (status !== undefined && !['open', 'acknowledged', 'resolved'].includes(status as string))
          throw new Refusal('invalid_query', 'status');
        const subject = q.subject === undefined ? undefined : String(q.subject);
        const incidents = await watch.incidents.list({
          ...(status ? { status: status as IncidentStatus } : {}),
          ...(subject ? { subject } : {}),
          limit: limitOf(q),
        });
        return reply.send({ incidents, counts: await watch.incidents.counts() });
      });

      scope.get('/v1/incidents/:id', async (request, reply) => {
        const { id } = request.params as { id: string };
        const incident = await watch.incidents.get(id);
        if (!incident) throw new Refusal('incident_not_found');
        const timeline = await watch.incidents.timeline(id).catch(rethrow);
        return reply.send({ incident, timeline });
      });

      for (const step of ['acknowledge', 'resolve'] as const) {
        scope.post(`/v1/incidents/:id/${step}`, { bodyLimit: 8192 }, async (request, reply) => {
          const { id } = request.params as { id: string };
          const note = optionalText(objectBody(request.body, ['note']), 'note');
          const actor = api.actorOf(request);
          const incident = await (
            step === 'acknowledge'
              ? watch.incidents.acknowledge(id, actor, note)
              : watch.incidents.resolve(id, actor, note)
          ).catch(rethrow);
          return reply.send({ incident });
        });
      }

      scope.get('/v1/quarantines', async (request, reply) => {
        query(request, []);
        const pending = await o.records.list({ namespace: 'release', status: 'pending', limit: 1000 });
        return reply.send({
          quarantines: watch.quarantines.list(),
          pendingReleases: pending.map((r) => ({
            target: r.body.target,
            approvedBy: r.body.approvers,
            requestedAt: r.createdAt,
          })),
          underApproval: watch.underApproval.list(),
          disabledRuntimes: watch.disabledRuntimes
            .list()
            .map((r) => ({ ...r, target: { kind: 'runtime', id: r.target.id } })),
        });
      });

      scope.post('/v1/quarantines', { bodyLimit: 8192 }, async (request, reply) => {
        const body = objectBody(request.body, ['kind', 'id', 'reason']);
        const t = target(body) as { kind: QuarantineKind; id: string };
        const reason = optionalText(body, 'reason') ?? 'quarantined by an administrator';
        const actor = api.actorOf(request);
        await o.audit(
          controlAuditEntry({
            action: 'quarantine.manual',
            target: `${t.kind}:${t.id}`,
            actor,
            authMethod: 'admin',
            outcome: 'ok',
            details: [`reason:${reason}`],
          }),
        );
        const record = await watch.quarantines.quarantine({ target: t, reason, actor }).catch(rethrow);
        return reply.code(201).send({ quarantine: record });
      });

      // Four eyes: the first admin's approval is kept (a control record); the release happens
      // when a second, different admin approves, which policy alone decides (release_quarantine
      // with the prior approvers in its context).
      scope.post('/v1/quarantines/release', { bodyLimit: 8192 }, async (request, reply) => {
        const body = objectBody(request.body, ['kind', 'id']);
        const t = target(body, true);
        const actor = api.actorOf(request);
        // A disabled runtime is held in its own list, under its upstream id.
        const list =
          t.kind === 'runtime'
            ? watch.disabledRuntimes
            : t.kind === 'approval'
              ? watch.underApproval
              : watch.quarantines;
        const held = {
          kind: t.kind === 'runtime' || t.kind === 'approval' ? ('principal' as const) : t.kind,
          id: t.id,
        };
        if (!list.get(held)) throw new Refusal('quarantine_not_found');
        const id = releaseId(t);
        const existing = await o.records.get('release', id);
        const pending = existing?.status === 'pending' ? existing : undefined;
        const prior = Array.isArray(pending?.body.approvers) ? (pending.body.approvers as string[]) : [];
        const allowed = o.authorize(request, 'release_quarantine', { actor, priorApprovers: prior });
        if (allowed === false || allowed === undefined) {
          throw new Refusal(prior.includes(actor) ? 'four_eyes_required' : 'admin_forbidden');
        }
        const at = new Date().toISOString();
        await o.audit(
          controlAuditEntry({
            action: 'quarantine.release_approved',
            target: `${t.kind}:${t.id}`,
            actor,
            authMethod: 'admin',
            outcome: 'ok',
            details: prior.map((p) => `prior:${p}`),
          }),
        );
        if (prior.length === 0) {
          const body = { target: t, approvers: [actor] };
          const created = existing
            ? await o.records.update('release', id, existing.version, {
                status: 'pending',
                body,
                updatedAt: at,
              })
            : (await o.records.create({
                  namespace: 'release',
                  id,
                  status: 'pending',
                  subject: `${t.kind}:${t.id}`,
                  createdAt: at,
                  body,
                }))
              ? true
              : undefined;
          if (!created) throw new Refusal('incident_conflict');
          return reply.code(202).send({ status: 'awaiting_second_approval', approvedBy: [actor] });
        }
        const actors = [...prior, actor];
        const done = await o.records.update('release', id, (pending as NonNullable<typeof pending>).version, {
          status: 'released',
          body: { target: t, approvers: actors },
          updatedAt: at,
        });
        if (!done) throw new Refusal('incident_conflict');
        await list.release({ target: held, actors }).catch(rethrow);
        await o.audit(
          controlAuditEntry({
            action: 'quarantine.released',
            target: `${t.kind}:${t.id}`,
            actor,
            authMethod: 'admin',
            outcome: 'ok',
            details: actors.map((a) => `approver:${a}`),
          }),
        );
        return reply.send({ status: 'released', approvedBy: actors });
      });

      scope.get('/v1/approvals', async (request, reply) => {
        const q = query(request, ['status', 'limit']);
        const status = q.status as ApprovalStatus | undefined;
        if (
          status !== undefined &&
          !['pending', 'approved', 'denied', 'released', 'expired'].includes(status)
        )
          throw new Refusal('invalid_query', 'status');
        return reply.send({ approvals: await approvals.list(status, limitOf(q)) });
      });

      scope.get('/v1/approvals/:id', async (request, reply) => {
        const approval = await approvals.get((request.params as { id: string }).id);
        if (!approval) throw new Refusal('approval_not_found');
        return reply.send({ approval });
      });

      for (const verdict of ['approve', 'deny'] as const) {
        scope.post(`/v1/approvals/:id/${verdict}`, { bodyLimit: 8192 }, async (request, reply) => {
          const { id } = request.params as { id: string };
          const reason = optionalText(objectBody(request.body, ['reason']), 'reason');
          const actor = api.actorOf(request);
          const approval = await approvals.get(id);
          if (!approval) throw new Refusal('approval_not_found');
          // Separation of duties, decided by policy: nobody approves their own request.
          const allowed = o.authorize(request, 'approve_tool_call', {
            actor,
            priorApprovers: [],
            requestedBy: approval.requestedBy,
          });
          if (allowed === false || allowed === undefined) throw new Refusal('admin_forbidden');
          const decided = await approvals.decide(id, actor, verdict, reason).catch(rethrow);
          return reply.send({ approval: decided });
        });
      }

      scope.get('/v1/risk', async (request, reply) => {
        const q = query(request, ['limit']);
        const now = Date.now();
        return reply.send({ top: watch.risk.top(Math.min(limitOf(q), 100), now) });
      });

      scope.get('/v1/playbooks', async (_request, reply) => {
        const { source, playbooks } = watch.playbooks();
        // `when.signals` is a Set in memory: sent as the list it was written as.
        const shown = playbooks.map((p) =>
          p.when.signals ? { ...p, when: { ...p.when, signals: [...p.when.signals] } } : p,
        );
        return reply.send({ source, playbooks: shown });
      });
    },
  );
}
