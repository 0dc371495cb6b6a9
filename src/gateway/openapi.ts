// The admin API as an OpenAPI 3.1 document, served on the admin listener at GET /v1/openapi.json.
// It describes every route of the admin plane (admin.ts and the admin-*.ts scopes); the contract
// test (test/integration/admin-openapi.test.ts) checks it against the live routes, the route
// literals in the source and real responses, so keep it in step with the handlers.
import type { FastifyInstance } from 'fastify';
import {
  authorised,
  BODY,
  decimal,
  ERROR_CODES,
  isoTime,
  json,
  limit,
  op,
  pathParam,
  query,
  ref,
  text,
  UNKNOWN_QUERY,
  type Json,
} from './openapi-builders.js';
import { RESPONSE_PATHS } from './openapi-paths-response.js';
import { ABOUT, SCHEMAS, SECURITY_SCHEMES } from './openapi-schemas.js';

const NO_QUERY = 'Takes no query parameters (400 invalid_query).';
const REVOKE_BODY = ['invalid_body', 'invalid_kind', 'invalid_value', 'invalid_reason', 'invalid_ttl'];
const PROOF = ['size_out_of_range', 'index_out_of_range'];
const CANDIDATE =
  'Body limit 1 MiB; unknown body fields are refused (invalid_body, `param` names it). A candidate that ' +
  'does not compile is a normal answer: 200 with `ok: false`. The running bundles are not touched.';

const PATHS: Json = {
  '/healthz': {
    get: op({ id: 'getHealth', summary: 'Liveness', tag: 'health', returns: 'Health' }),
  },
  '/readyz': {
    get: op({
      id: 'getReadiness',
      summary: 'Readiness of every pipeline dependency',
      tag: 'health',
      ok: {
        200: json(ref('Readiness'), 'Every check answered.'),
        503: json(ref('Readiness'), 'A check failed or timed out (it is named `failing`).'),
      },
    }),
  },
  '/metrics': {
    get: op({
      id: 'getMetrics',
      summary: 'Prometheus metrics',
      tag: 'health',
      ok: { 200: text('Text format.') },
    }),
  },
  '/v1/openapi.json': {
    get: op({
      id: 'getOpenApi',
      summary: 'This document (it holds no secrets)',
      tag: 'health',
      ok: { 200: json({ type: 'object' }, 'The OpenAPI 3.1 document of the admin API.') },
    }),
  },
  '/admin/revocations': {
    get: op({
      id: 'listRevocations',
      summary: 'Live revocations, newest first',
      tag: 'identity',
      description: UNKNOWN_QUERY,
      parameters: [query('kind', ref('Revocation/properties/kind'), 'Only this kind.'), limit(1000)],
      returns: 'RevocationList',
      ...authorised('manage_identity', 'invalid_query'),
    }),
    post: op({
      id: 'createRevocation',
      summary: 'Revoke a token, jti, subject, session, device, API key or certificate (audited)',
      tag: 'identity',
      description: 'Body limit 16 KiB. Unknown body fields are refused (invalid_body, `param` names it).',
      body: { schema: ref('RevocationRequest'), required: true },
      ok: { 201: json(ref('RevocationCreated'), 'Revoked on every replica, and audited.') },
      ...authorised('manage_identity', ...BODY, ...REVOKE_BODY, 'revocation_unavailable', 'audit_failed'),
      special: { audit_failed: ref('RevocationAuditFailed') },
    }),
  },
  '/admin/policy': {
    get: op({
      id: 'getPolicyStatus',
      summary: 'The running live and shadow bundles',
      tag: 'policy',
      returns: 'PolicyStatus',
      ...authorised('view_audit'),
    }),
  },
  '/admin/policy/shadow': {
    get: op({
      id: 'listShadowDifferences',
      summary: 'The latest requests the shadow bundle decided differently, newest first',
      tag: 'policy',
      description: UNKNOWN_QUERY,
      parameters: [limit(100)],
      returns: 'ShadowDifferences',
      ...authorised('view_audit', 'invalid_query'),
    }),
  },
  '/admin/policy/reload': {
    post: op({
      id: 'reloadPolicy',
      summary: 'Reload the live and shadow bundles here and on every replica',
      tag: 'policy',
      description: 'Body limit 1 KiB, body ignored. A refused candidate: 422 with its code in `param`.',
      body: { schema: {}, required: false, description: 'Ignored.' },
      returns: 'PolicyReloaded',
      ...authorised('manage_policy', ...BODY, 'policy_bundle_refused'),
      special: { policy_bundle_refused: ref('PolicyBundleRefused') },
    }),
  },
  '/v1/policy/validate': {
    post: op({
      id: 'validatePolicyCandidate',
      summary:
        'Compile a candidate bundle sent in the body and run its own tests (audited; nothing is loaded)',
      tag: 'policy',
      description: `${CANDIDATE} Recorded in the ledger as a \`policy.validate\` control entry.`,
      body: { schema: ref('PolicyValidateRequest'), required: true },
      ok: {
        200: json(
          { oneOf: [ref('PolicyCandidateValidated'), ref('PolicyCandidateRefused')] },
          'Compiled (`ok: true`, with its test results) or refused (`ok: false`, with its code).',
        ),
      },
      ...authorised('manage_policy', ...BODY, 'invalid_body'),
    }),
  },
  '/v1/policy/simulate': {
    post: op({
      id: 'simulatePolicyCandidate',
      summary: 'Replay recorded decisions from the ledger against a candidate bundle sent in the body',
      tag: 'policy',
      description:
        `${CANDIDATE} Reads the newest \`limit\` ledger records (stored at or after \`since\`) and ` +
        'reports how the decisions recorded with their inputs would change; recorded in the ledger as a ' +
        '`policy.simulate` control entry.',
      body: { schema: ref('PolicySimulateRequest'), required: true },
      ok: {
        200: json(
          { oneOf: [ref('PolicyCandidateSimulated'), ref('PolicyCandidateRefused')] },
          'Simulated (`ok: true`: counts per change and examples) or refused (`ok: false`, with its code).',
        ),
      },
      ...authorised('manage_policy', ...BODY, 'invalid_body'),
    }),
  },
  '/v1/ledger/checkpoint': {
    get: op({
      id: 'getLedgerCheckpoint',
      summary: 'The latest signed checkpoint (a signed note)',
      tag: 'ledger',
      description: NO_QUERY,
      ok: { 200: text('The checkpoint note.') },
      ...authorised('view_audit', 'invalid_query', 'no_checkpoint'),
    }),
  },
  '/v1/ledger/proof/inclusion': {
    get: op({
      id: 'getInclusionProof',
      summary: "An entry's inclusion proof in the tree of `size` entries",
      tag: 'ledger',
      description: `${UNKNOWN_QUERY} Proof hashes are base64, \`leafHash\` is hex.`,
      parameters: [
        decimal('index', 'The entry index (its seq minus 1), below size.', true),
        decimal('size', "The tree size; default the latest checkpoint's."),
      ],
      returns: 'InclusionProof',
      ...authorised('view_audit', 'invalid_query', 'no_checkpoint', ...PROOF, 'ledger_unavailable'),
    }),
  },
  '/v1/ledger/proof/consistency': {
    get: op({
      id: 'getConsistencyProof',
      summary: 'A consistency proof between two tree sizes',
      tag: 'ledger',
      description: UNKNOWN_QUERY,
      parameters: [
        decimal('from', 'The older size, at least 1.', true),
        decimal('to', 'The newer size.', true),
      ],
      returns: 'ConsistencyProof',
      ...authorised('view_audit', 'invalid_query', 'size_out_of_range'),
    }),
  },
  '/v1/ledger/entries': {
    get: op({
      id: 'listLedgerEntries',
      summary: 'Ledger entries by indexed filters, oldest first, paged by afterSeq',
      tag: 'ledger',
      description: `${UNKNOWN_QUERY} Each parameter may be given once.`,
      parameters: [
        query('principal', { type: 'string' }, 'Principal id.'),
        query('request', { type: 'string' }, 'Request id.'),
        query('decision', { enum: ['allow', 'deny'] }, 'Policy effect.'),
        query('model', { type: 'string' }, 'Model id.'),
        query('dataClass', { type: 'string' }, 'Data class.'),
        query('phase', { enum: ['release', 'complete', 'refused', 'control'] }, 'Entry phase.'),
        isoTime('since', 'Stored at or after (UTC, `toISOString` form).'),
        isoTime('until', 'Stored before (UTC, `toISOString` form).'),
        decimal('afterSeq', 'Only entries with a greater seq (default 0).'),
        decimal('limit', 'How many (default 100; above 1000 is taken as 1000).'),
      ],
      returns: 'LedgerEntries',
      ...authorised('view_audit', 'invalid_query'),
    }),
  },
  ...RESPONSE_PATHS,
  '/v1/runtimes': {
    get: op({
      id: 'listRuntimes',
      summary: 'Model runtimes (upstreams) and their attestation status',
      tag: 'operations',
      returns: 'RuntimeList',
      ...authorised('view_audit'),
    }),
  },
  '/v1/keys': {
    get: op({
      id: 'listKeys',
      summary: "The key provider's keys and their versions (never key material)",
      tag: 'operations',
      returns: 'KeyList',
      ...authorised('manage_keys'),
    }),
  },
  '/v1/keys/{name}/rotate': {
    post: op({
      id: 'rotateKey',
      summary: 'Rotate a key (a new primary version; audited)',
      tag: 'operations',
      description: 'Takes no body. A name that is not a key name answers 404 key_not_found.',
      parameters: [
        pathParam('name', 'The key name.', { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
      ],
      returns: 'KeyRotated',
      ...authorised('manage_keys', ...BODY, 'key_not_found', 'key_rotation_failed'),
    }),
  },
  '/v1/keys/{name}/versions/{version}/destroy': {
    post: op({
      id: 'destroyKeyVersion',
      summary: 'Destroy a key version (crypto-shredding; audited)',
      tag: 'operations',
      description:
        'Takes no body. Whatever only this version protects becomes unreadable for good. The primary version cannot be destroyed (409 key_version_in_use): rotate first.',
      parameters: [
        pathParam('name', 'The key name.', { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
        pathParam('version', 'The version number.', { type: 'string', pattern: '^[1-9][0-9]{0,8}$' }),
      ],
      returns: 'KeyRotated',
      ...authorised(
        'manage_keys',
        ...BODY,
        'key_version_not_found',
        'key_version_in_use',
        'key_destroy_failed',
      ),
    }),
  },
};

/** The admin API of ztgate as an OpenAPI 3.1 document. */
export const ADMIN_OPENAPI: Json = {
  openapi: '3.1.0',
  info: { title: 'ztgate admin API', version: '1', description: ABOUT },
  tags: [
    'health',
    'identity',
    'policy',
    'ledger',
    'incidents',
    'quarantines',
    'approvals',
    'watch',
    'operations',
  ].map((name) => ({ name })),
  security: [{ mutualTLS: [] }, { adminBearer: [] }],
  paths: PATHS,
  components: {
    securitySchemes: SECURITY_SCHEMES,
    schemas: SCHEMAS,
    'x-ztgate-error-codes': ERROR_CODES,
  },
};

const SERVED = JSON.stringify(ADMIN_OPENAPI);

/** Serves ADMIN_OPENAPI at GET /v1/openapi.json (no policy action: it holds no secrets). */
export function registerOpenApi(app: FastifyInstance): void {
  app.get('/v1/openapi.json', async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(SERVED),
  );
}
