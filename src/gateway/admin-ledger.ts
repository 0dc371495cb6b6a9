import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import { storedConsistencyProof, storedInclusionProof } from '../ledger/store-proofs.js';
import type { AuditQuery, AuditRepository } from '../store/index.js';
import { AdminRefusal, COMMON_ADMIN_ERRORS, registerAdminScope, type AdminError } from './admin-api.js';
import type { AdminAuthorization } from './admin-auth.js';

type AdminLedgerErrorCode =
  | keyof typeof COMMON_ADMIN_ERRORS
  | 'no_checkpoint'
  | 'index_out_of_range'
  | 'size_out_of_range'
  | 'ledger_unavailable';

const ERRORS: Readonly<Record<AdminLedgerErrorCode, AdminError>> = {
  ...COMMON_ADMIN_ERRORS,
  no_checkpoint: { status: 404, type: 'not_found_error', message: 'No checkpoint has been signed yet.' },
  index_out_of_range: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The index is not below the tree size.',
  },
  size_out_of_range: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The tree size is larger than the ledger, or the sizes are out of order.',
  },
  ledger_unavailable: { status: 503, type: 'api_error', message: 'The ledger could not be read.' },
};

type LedgerReads = Pick<
  AuditRepository,
  'list' | 'treeHead' | 'leaves' | 'leafHashes' | 'node' | 'latestCheckpoint' | 'checkpoints'
>;

const DECIMAL = /^(?:0|[1-9][0-9]{0,14})$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

function queryOf(query: unknown, allowed: readonly string[]): Record<string, string> {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(q)) {
    if (!allowed.includes(key) || typeof value !== 'string') throw new AdminRefusal('invalid_query', key);
  }
  return q as Record<string, string>;
}

function integer(q: Record<string, string>, key: string, fallback?: number): number {
  const value = q[key];
  if (value === undefined && fallback !== undefined) return fallback;
  if (value === undefined || !DECIMAL.test(value)) throw new AdminRefusal('invalid_query', key);
  return Number(value);
}

const ENTRY_FILTERS = [
  'principal',
  'request',
  'decision',
  'model',
  'dataClass',
  'phase',
  'since',
  'until',
  'afterSeq',
  'limit',
] as const;

function auditQueryOf(q: Record<string, string>): AuditQuery {
  for (const key of ['since', 'until'] as const) {
    if (q[key] !== undefined && !ISO_TIME.test(q[key])) throw new AdminRefusal('invalid_query', key);
  }
  if (q.decision !== undefined && q.decision !== 'allow' && q.decision !== 'deny')
    throw new AdminRefusal('invalid_query', 'decision');
  const phases = ['release', 'complete', 'refused', 'control'];
  if (q.phase !== undefined && !phases.includes(q.phase)) throw new AdminRefusal('invalid_query', 'phase');
  return {
    ...(q.principal !== undefined ? { principalId: q.principal } : {}),
    ...(q.request !== undefined ? { requestId: q.request } : {}),
    ...(q.decision !== undefined ? { decision: q.decision as 'allow' | 'deny' } : {}),
    ...(q.model !== undefined ? { modelId: q.model } : {}),
    ...(q.dataClass !== undefined ? { dataClass: q.dataClass } : {}),
    ...(q.phase !== undefined ? { phase: q.phase as AuditQuery['phase'] } : {}),
    ...(q.since !== undefined ? { since: q.since } : {}),
    ...(q.until !== undefined ? { until: q.until } : {}),
    afterSeq: integer(q, 'afterSeq', 0),
    limit: Math.min(1000, integer(q, 'limit', 100)),
  };
}

const b64 = (hashes: readonly Buffer[]): string[] => hashes.map((h) => h.toString('base64'));

/**
 * The ledger on the admin listener, every route authorised as `view_audit`:
 * `GET /v1/ledger/checkpoint` (the latest signed checkpoint, text/plain),
 * `GET /v1/ledger/proof/inclusion?index=&size=` (size defaults to the latest checkpoint's),
 * `GET /v1/ledger/proof/consistency?from=&to=`, and `GET /v1/ledger/entries?principal=&since=…`
 * (indexed queries, paged by afterSeq). Proof hashes are base64, as in checkpoints.
 */
export async function registerAdminLedger<Logger extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>,
  audit: LedgerReads,
  auth: AdminAuthorization,
  onError: (err: unknown) => void,
): Promise<void> {
  const latest = async () => {
    const checkpoint = await audit.latestCheckpoint();
    if (!checkpoint) throw new AdminRefusal('no_checkpoint');
    return checkpoint;
  };
  const checkSize = async (size: number): Promise<void> => {
    if (size > (await audit.treeHead()).size) throw new AdminRefusal('size_out_of_range', 'size');
  };
  await registerAdminScope(
    app,
    { errors: ERRORS, authorize: (request) => auth(request, 'view_audit'), onError },
    (scope) => {
      scope.get('/v1/ledger/checkpoint', async (request, reply) => {
        queryOf(request.query, []);
        const checkpoint = await latest();
        return reply.type('text/plain; charset=utf-8').send(checkpoint.note);
      });
      scope.get('/v1/ledger/proof/inclusion', async (request, reply) => {
        const q = queryOf(request.query, ['index', 'size']);
        const index = integer(q, 'index');
        const size = q.size === undefined ? (await latest()).size : integer(q, 'size');
        await checkSize(size);
        if (index >= size) throw new AdminRefusal('index_out_of_range', 'index');
        const [leaf] = await audit.leaves(index, index + 1);
        if (!leaf) throw new AdminRefusal('ledger_unavailable');
        const proof = await storedInclusionProof(audit, index, size);
        const checkpoint = (await audit.checkpoints({ afterSize: size - 1, limit: 1 }))[0];
        return reply.send({
          index,
          size,
          leafHash: leaf.leafHash.toString('hex'),
          leaf: leaf.text,
          proof: b64(proof),
          checkpoint: checkpoint?.size === size ? checkpoint.note : null,
        });
      });
      scope.get('/v1/ledger/proof/consistency', async (request, reply) => {
        const q = queryOf(request.query, ['from', 'to']);
        const from = integer(q, 'from');
        const to = integer(q, 'to');
        if (from < 1 || from > to) throw new AdminRefusal('size_out_of_range', 'from');
        await checkSize(to);
        return reply.send({ from, to, proof: b64(await storedConsistencyProof(audit, from, to)) });
      });
      scope.get('/v1/ledger/entries', async (request, reply) => {
        const query = auditQueryOf(queryOf(request.query, ENTRY_FILTERS));
        const records = await audit.list(query);
        return reply.send({
          entries: records.map((r) => ({
            seq: r.seq,
            index: r.seq - 1,
            storedAt: r.storedAt,
            entry: r.entry,
          })),
          nextAfterSeq: records.length > 0 ? records[records.length - 1]!.seq : null,
        });
      });
    },
  );
}
