// The watch-and-respond part of the admin API's OpenAPI document (openapi.ts): incidents,
// quarantines, approvals, risk and playbooks.
import {
  approvalId,
  incidentId,
  authorised,
  BODY,
  json,
  limit,
  note,
  op,
  query,
  ref,
  release,
  UNKNOWN_QUERY,
  type Json,
} from './openapi-builders.js';

const NO_QUERY = 'Takes no query parameters (400 invalid_query).';
const INCIDENT = ['incident_transition', 'incident_conflict'];
const DECIDE = ['approval_not_pending', 'approval_conflict', 'approval_expired'];

export const RESPONSE_PATHS: Json = {
  '/v1/incidents': {
    get: op({
      id: 'listIncidents',
      summary: 'Incidents the playbooks opened, newest first, with counts by status',
      tag: 'incidents',
      description: UNKNOWN_QUERY,
      parameters: [
        query('status', { enum: ['open', 'acknowledged', 'resolved'] }, 'Only this status.'),
        query('subject', { type: 'string' }, 'Only this subject (`kind:id`, e.g. `principal:idp#ada`).'),
        limit(100),
      ],
      returns: 'IncidentList',
      ...authorised('view_audit', 'invalid_query'),
    }),
  },
  '/v1/incidents/{id}': {
    get: op({
      id: 'getIncident',
      summary: 'An incident and its timeline (its ledger entries and the evidence they name)',
      tag: 'incidents',
      parameters: [incidentId],
      returns: 'IncidentTimeline',
      ...authorised('view_audit', 'incident_not_found'),
    }),
  },
  ...Object.fromEntries(
    (['acknowledge', 'resolve'] as const).map((step) => [
      `/v1/incidents/{id}/${step}`,
      {
        post: op({
          id: `${step}Incident`,
          summary: step === 'acknowledge' ? 'Acknowledge an open incident' : 'Resolve an incident',
          tag: 'incidents',
          description: 'Body limit 8 KiB.',
          parameters: [incidentId],
          body: note('note'),
          returns: 'IncidentChanged',
          ...authorised('respond_incident', ...BODY, 'invalid_body', 'incident_not_found', ...INCIDENT),
        }),
      },
    ]),
  ),
  '/v1/quarantines': {
    get: op({
      id: 'listQuarantines',
      summary: 'Active quarantines, pending releases, principals under approval, disabled runtimes',
      tag: 'quarantines',
      description: NO_QUERY,
      returns: 'QuarantineList',
      ...authorised('view_audit', 'invalid_query'),
    }),
    post: op({
      id: 'createQuarantine',
      summary: 'Quarantine a workspace, principal, device or session (audited)',
      tag: 'quarantines',
      description: 'Body limit 8 KiB. Without a reason: "quarantined by an administrator".',
      body: { schema: ref('QuarantineRequest'), required: true },
      ok: { 201: json(ref('QuarantineCreated'), 'Quarantined on every replica.') },
      ...authorised('respond_incident', ...BODY, 'invalid_body'),
    }),
  },
  '/v1/quarantines/release': {
    post: op({
      id: 'releaseQuarantine',
      summary: 'Approve lifting a quarantine, an approval requirement or a disabled runtime (four eyes)',
      tag: 'quarantines',
      description:
        'Body limit 8 KiB. The first approval is kept (202); the release happens when policy allows a ' +
        'second, different administrator (`release_quarantine` with the prior approvers).',
      alsoDecided: ['release_quarantine'],
      body: { schema: ref('ReleaseTarget'), required: true },
      ok: {
        200: release('released', 'Released (second approval).'),
        202: release('awaiting_second_approval', 'First approval kept.'),
      },
      ...authorised(
        'respond_incident',
        ...BODY,
        'invalid_body',
        'quarantine_not_found',
        'four_eyes_required',
        'incident_conflict',
      ),
    }),
  },
  '/v1/approvals': {
    get: op({
      id: 'listApprovals',
      summary: 'Held tool calls, newest first (metadata only, never their arguments)',
      tag: 'approvals',
      description: UNKNOWN_QUERY,
      parameters: [
        query(
          'status',
          { enum: ['pending', 'approved', 'denied', 'released', 'expired'] },
          'Only this status.',
        ),
        limit(100),
      ],
      returns: 'ApprovalList',
      ...authorised('view_audit', 'invalid_query'),
    }),
  },
  '/v1/approvals/{id}': {
    get: op({
      id: 'getApproval',
      summary: 'One held tool call',
      tag: 'approvals',
      parameters: [approvalId],
      returns: 'ApprovalOne',
      ...authorised('view_audit', 'approval_not_found'),
    }),
  },
  ...Object.fromEntries(
    (['approve', 'deny'] as const).map((verdict) => [
      `/v1/approvals/{id}/${verdict}`,
      {
        post: op({
          id: `${verdict}Approval`,
          summary: `${verdict === 'approve' ? 'Approve' : 'Deny'} a held tool call (never one's own)`,
          tag: 'approvals',
          description: 'Body limit 8 KiB. Policy decides `approve_tool_call` with the requester.',
          alsoDecided: ['approve_tool_call'],
          parameters: [approvalId],
          body: note('reason'),
          returns: 'ApprovalOne',
          ...authorised('respond_incident', ...BODY, 'invalid_body', 'approval_not_found', ...DECIDE),
        }),
      },
    ]),
  ),
  '/v1/risk': {
    get: op({
      id: 'getRisk',
      summary: 'The highest risk scores now, highest first',
      tag: 'watch',
      description: UNKNOWN_QUERY,
      parameters: [limit(100, 1000, '; at most 100 are returned')],
      returns: 'RiskTop',
      ...authorised('view_audit', 'invalid_query'),
    }),
  },
  '/v1/playbooks': {
    get: op({
      id: 'listPlaybooks',
      summary: 'The playbooks in force and where they came from',
      tag: 'watch',
      returns: 'PlaybookList',
      ...authorised('view_audit'),
    }),
  },
};
