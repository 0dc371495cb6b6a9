// The component schemas of the admin API's OpenAPI document.
import { POLICY_CANDIDATE_SCHEMAS } from './openapi-schemas-policy.js';
import { int0, nullable, obj, ref, str, strList, time, type Json } from './openapi-builders.js';

const errorMember: Json = { $ref: '#/components/schemas/AdminError/properties/error' };
const revocationKinds = ['token', 'jti', 'subject', 'device', 'session', 'apikey', 'certificate'];
const quarantineKinds = ['workspace', 'principal', 'device', 'session'];
const releaseTarget = obj({
  kind: {
    enum: [...quarantineKinds, 'runtime', 'approval'],
    description: '`runtime`: an upstream an incident disabled; `approval`: a principal under approval.',
  },
  id: { type: 'string', minLength: 1, maxLength: 500, description: 'Printable text.' },
});
const quarantineTarget = obj({
  kind: { enum: quarantineKinds },
  id: { type: 'string', minLength: 1, maxLength: 512, description: 'Printable text.' },
});
const bundleStatus = obj({
  digest: str,
  source: { type: 'string', description: '`builtin`, or the bundle directory.' },
  builtin: { type: 'boolean' },
  loadedAt: time,
  signedBy: nullable(str),
  policies: int0,
  tests: obj({ passed: int0, failed: int0 }),
  lastReload: {
    oneOf: [
      { type: 'null' },
      obj({
        at: time,
        trigger: { enum: ['start', 'watch', 'signal', 'admin', 'replica'] },
        outcome: { enum: ['replaced', 'unchanged', 'rejected'] },
        code: nullable(str),
      }),
    ],
  },
});
const reloadOutcome: Json = {
  oneOf: [
    obj({ outcome: { const: 'replaced' }, digest: str, previousDigest: str }),
    obj({ outcome: { const: 'unchanged' }, digest: str }),
    obj({ outcome: { const: 'rejected' }, code: str, digest: str }),
  ],
};
const decisionSummary = obj({
  effect: { enum: ['allow', 'deny'] },
  bundleDigest: str,
  determiningPolicies: strList,
  obligations: strList,
  errors: strList,
});
const playbookAction: Json = {
  oneOf: [
    obj({ kind: { const: 'quarantine' }, forMs: int0 }, ['kind']),
    obj({
      kind: { const: 'revoke' },
      what: { type: 'array', items: { enum: ['sessions', 'tokens', 'api_keys'] } },
    }),
    obj({ kind: { const: 'rotate_key' }, key: str }),
    obj({ kind: { const: 'disable_runtime' }, runtime: str }),
    obj({ kind: { const: 'require_approval' } }),
    obj(
      {
        kind: { const: 'notify' },
        webhook: str,
        secret: { type: 'string', description: 'A reference (`env:NAME`, `file:PATH`), never the secret.' },
      },
      ['kind', 'webhook', 'secret'],
    ),
    obj({ kind: { const: 'notify' }, syslog: { const: true } }),
  ],
};

/** `info.description`. */
export const ABOUT =
  'The admin listener of ztgate (`server.adminHost`/`adminPort`, loopback by default). Every `/admin` and ' +
  '`/v1` route except this document is authorised by the live policy bundle for the Cedar action in ' +
  '`x-ztgate-action` before any body is read; `x-ztgate-decided-again` names actions policy decides again ' +
  'in the handler. Callers are mutual-TLS peers (`server.adminTls`: SPIFFE IDs allowed by ' +
  '`server.adminAllowedSpiffeIds`, principal role `ztgate-admin`) or, on a listener without mTLS, bearers ' +
  'of an OIDC token from a configured issuer. Refusals are `{"error": {message, type, code, param}}` with ' +
  'a stable code (`components.x-ztgate-error-codes`); unknown routes and methods get Fastify\u2019s plain ' +
  '404. /healthz, /readyz, /metrics and this document (GET /v1/openapi.json) ask no policy action: the ' +
  'document holds no secrets, only the shape of the API. On an mTLS listener the TLS handshake still ' +
  'requires an allowed client certificate. Every GET route also answers HEAD.';

/** `components.securitySchemes`. */
export const SECURITY_SCHEMES: Json = {
  mutualTLS: {
    type: 'mutualTLS',
    description:
      'A client X.509-SVID from the mesh CA whose SPIFFE ID `server.adminAllowedSpiffeIds` allows.',
  },
  adminBearer: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An OIDC token from a configured issuer (where the listener asks no client certificate).',
  },
};

/** `components.schemas`. */
export const SCHEMAS: Json = {
  AdminError: obj({
    error: obj({
      message: { type: 'string', description: 'Fixed per code; never internal detail.' },
      type: {
        enum: [
          'authentication_error',
          'permission_error',
          'invalid_request_error',
          'not_found_error',
          'api_error',
        ],
      },
      code: { type: 'string', description: 'Stable code (components.x-ztgate-error-codes).' },
      param: {
        type: ['string', 'null'],
        description: 'The field, query parameter or refusal code concerned.',
      },
    }),
  }),
  AuditEntry: {
    type: 'object',
    description: 'A ledger entry (src/core/audit.ts AuditEntry; optional fields omitted when absent).',
    required: ['requestId', 'time', 'phase', 'action', 'principalId', 'decision', 'status'],
    properties: {
      requestId: str,
      time,
      phase: { enum: ['release', 'complete', 'refused', 'control'] },
      action: str,
      principalId: nullable(str),
      decision: { enum: ['allow', 'deny', null] },
      status: { type: 'integer' },
      target: str,
    },
  },
  AuditRecord: obj({ seq: { type: 'integer', minimum: 1 }, storedAt: time, entry: ref('AuditEntry') }),
  Revocation: obj({
    kind: { enum: revocationKinds },
    value: { type: 'string', description: 'Normalised; for `token`, the SHA-256 (hex), never the token.' },
    reason: str,
    actor: str,
    revokedAt: time,
    expiresAt: time,
  }),
  RevocationRequest: obj(
    {
      kind: { enum: revocationKinds },
      value: { type: 'string', minLength: 1, maxLength: 512 },
      reason: { type: 'string', maxLength: 500, description: 'Printable text.' },
      ttlSeconds: { type: 'integer', minimum: 1, description: 'At most identity.revocation.maxTtl.' },
    },
    ['kind', 'value'],
  ),
  PolicyStatus: obj({ live: bundleStatus, shadow: { oneOf: [{ type: 'null' }, bundleStatus] } }),
  ReloadResult: obj({ live: reloadOutcome, shadow: reloadOutcome }, ['live']),
  ShadowDifference: obj({
    at: time,
    requestId: str,
    change: { enum: ['allow_to_deny', 'deny_to_allow', 'obligations_changed'] },
    principalId: nullable(str),
    action: str,
    resource: str,
    live: decisionSummary,
    shadow: decisionSummary,
  }),
  Incident: obj(
    {
      id: { type: 'string', pattern: '^inc_[A-Za-z0-9_-]{16}$' },
      status: { enum: ['open', 'acknowledged', 'resolved'] },
      playbookId: str,
      subject: obj({ kind: str, id: str }),
      severity: { enum: ['low', 'medium', 'high', 'critical'] },
      reason: str,
      evidence: { ...strList, description: 'Request ids of the ledger entries that set it off.' },
      actions: { ...strList, description: '`kind:outcome` of each action run, in order.' },
      openedAt: time,
      updatedAt: time,
      acknowledgedBy: str,
      resolvedBy: str,
      note: str,
    },
    [
      'id',
      'status',
      'playbookId',
      'subject',
      'severity',
      'reason',
      'evidence',
      'actions',
      'openedAt',
      'updatedAt',
    ],
  ),
  QuarantineTarget: quarantineTarget,
  ReleaseTarget: releaseTarget,
  Quarantine: obj(
    {
      target: quarantineTarget,
      reason: str,
      incidentId: str,
      actor: str,
      at: { type: 'integer', description: 'ms since the epoch.' },
      until: { type: 'integer', description: 'ms since the epoch; absent: until released.' },
      seq: int0,
    },
    ['target', 'reason', 'actor', 'at', 'seq'],
  ),
  QuarantineRequest: obj(
    {
      kind: { enum: quarantineKinds },
      id: { type: 'string', minLength: 1, maxLength: 500, description: 'Printable text.' },
      reason: { type: 'string', minLength: 1, maxLength: 500, description: 'Printable text.' },
    },
    ['kind', 'id'],
  ),
  Approval: obj(
    {
      id: { type: 'string', pattern: '^apr_[A-Za-z0-9_-]{22}$' },
      status: {
        enum: ['pending', 'approved', 'denied', 'released', 'expired'],
        description: '`expired`: undecided, or approved and never fetched, past `expiresAt`.',
      },
      tool: str,
      requestedBy: str,
      requestId: str,
      model: nullable(str),
      createdAt: time,
      expiresAt: time,
      decidedBy: str,
      decidedAt: time,
      reason: str,
    },
    ['id', 'status', 'tool', 'requestedBy', 'requestId', 'model', 'createdAt', 'expiresAt'],
  ),
  Playbook: obj(
    {
      id: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' },
      description: str,
      when: obj(
        {
          signals: {
            type: 'array',
            items: str,
            description: 'The signal types that set the playbook off (absent: any).',
          },
          count: obj({ atLeast: { type: 'integer', minimum: 1 }, withinMs: int0 }),
          riskAbove: { type: 'number', minimum: 0, maximum: 100 },
          anomaly: str,
        },
        [],
      ),
      subject: { enum: ['principal', 'device', 'workspace', 'session'] },
      cooldownMs: int0,
      actions: { type: 'array', items: playbookAction },
    },
    ['id', 'when', 'subject', 'cooldownMs', 'actions'],
  ),
  Runtime: {
    type: 'object',
    additionalProperties: false,
    required: ['id', 'baseUrl', 'region', 'disabled', 'attestation'],
    properties: {
      id: str,
      baseUrl: str,
      region: nullable(str),
      disabled: { type: 'boolean', description: 'An incident took it out of routing (on every replica).' },
      attestation: {
        type: 'string',
        description: '`none`, or the evidence kind (dev, sev-snp, tdx, \u2026).',
      },
      freshnessMs: int0,
      approvedMeasurements: strList,
      eligible: { type: 'boolean' },
      attested: { type: 'boolean' },
      insecure: { const: true, description: 'Eligible on non-hardware (dev) evidence.' },
      measurement: str,
      attestationId: str,
      verifiedAt: time,
      expiresAt: time,
      reason: str,
    },
  },
  KeyInfo: obj({
    name: str,
    algorithm: { enum: ['aes-256-gcm', 'ed25519', 'ecdsa-p256', 'ecdsa-p384'] },
    primaryVersion: { type: 'integer', minimum: 1 },
    versions: {
      type: 'array',
      items: obj(
        {
          version: { type: 'integer', minimum: 1 },
          state: { enum: ['active', 'disabled', 'destroyed'] },
          createdAt: time,
          destroyedAt: time,
        },
        ['version', 'state', 'createdAt'],
      ),
    },
  }),
  Health: obj({ status: { const: 'ok' } }),
  RevocationCreated: obj({ revocation: ref('Revocation') }),
  QuarantineCreated: obj({ quarantine: ref('Quarantine') }),
  Readiness: obj({
    status: { enum: ['ready', 'not_ready'] },
    checks: { type: 'object', additionalProperties: { enum: ['ok', 'failing'] } },
  }),
  RevocationList: obj({ revocations: { type: 'array', items: ref('Revocation') } }),
  PolicyReloaded: obj({ result: ref('ReloadResult') }),
  ShadowDifferences: obj({ differences: { type: 'array', items: ref('ShadowDifference') } }),
  InclusionProof: obj({
    index: int0,
    size: { type: 'integer', minimum: 1 },
    leafHash: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    leaf: { type: 'string', description: 'The entry as stored (canonical JSON).' },
    proof: { type: 'array', items: { type: 'string', contentEncoding: 'base64' } },
    checkpoint: { type: ['string', 'null'], description: 'The checkpoint signed at exactly this size.' },
  }),
  ConsistencyProof: obj({
    from: { type: 'integer', minimum: 1 },
    to: { type: 'integer', minimum: 1 },
    proof: { type: 'array', items: { type: 'string', contentEncoding: 'base64' } },
  }),
  LedgerEntries: obj({
    entries: {
      type: 'array',
      items: obj({
        seq: { type: 'integer', minimum: 1 },
        index: int0,
        storedAt: time,
        entry: ref('AuditEntry'),
      }),
    },
    nextAfterSeq: { type: ['integer', 'null'], description: 'The last seq returned; null when none.' },
  }),
  IncidentList: obj({
    incidents: { type: 'array', items: ref('Incident') },
    counts: {
      type: 'object',
      propertyNames: { enum: ['open', 'acknowledged', 'resolved'] },
      additionalProperties: int0,
    },
  }),
  IncidentTimeline: obj({
    incident: ref('Incident'),
    timeline: { type: 'array', items: ref('AuditRecord') },
  }),
  IncidentChanged: obj({ incident: ref('Incident') }),
  QuarantineList: obj({
    quarantines: { type: 'array', items: ref('Quarantine') },
    pendingReleases: {
      type: 'array',
      items: obj({ target: releaseTarget, approvedBy: strList, requestedAt: time }),
    },
    underApproval: { type: 'array', items: ref('Quarantine') },
    disabledRuntimes: {
      type: 'array',
      description: 'Runtimes (upstreams) an incident disabled; release them with kind `runtime`.',
      items: {
        allOf: [
          ref('Quarantine'),
          {
            type: 'object',
            properties: { target: { type: 'object', properties: { kind: { const: 'runtime' } } } },
          },
        ],
      },
    },
  }),
  ApprovalList: obj({ approvals: { type: 'array', items: ref('Approval') } }),
  ApprovalOne: obj({ approval: ref('Approval') }),
  RiskTop: obj({
    top: {
      type: 'array',
      items: obj({
        key: { type: 'string', description: '`kind:id`.' },
        score: { type: 'number', minimum: 0, maximum: 100 },
      }),
    },
  }),
  PlaybookList: obj({
    source: { type: 'string', description: '`none`, `bundle:<digest>` or `file:<path>`.' },
    playbooks: { type: 'array', items: ref('Playbook') },
  }),
  RuntimeList: obj({ runtimes: { type: 'array', items: ref('Runtime') } }),
  KeyList: obj({ provider: { type: 'string' }, keys: { type: 'array', items: ref('KeyInfo') } }),
  KeyRotated: obj({ key: ref('KeyInfo') }),
  RevocationAuditFailed: obj({ error: errorMember, revocation: ref('Revocation') }),
  PolicyBundleRefused: obj({ error: errorMember, result: ref('ReloadResult') }),
  ...POLICY_CANDIDATE_SCHEMAS,
};

// Building blocks of the document's operations (openapi.ts).
