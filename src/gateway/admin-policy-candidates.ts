// Admin API for a candidate policy bundle sent in the request, for the console: validate it
// (compile and run its own tests) and simulate it (replay recorded decisions from the ledger).
// Neither touches the running bundles; a candidate that does not compile is a normal answer
// (200 with `ok: false` and its stable code), not an error.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { AuditEntry } from '../core/index.js';
import {
  compileBundle,
  decisionRowOf,
  PolicyBundleError,
  runBundleTests,
  Simulation,
  type BundleErrorCode,
  type PolicyBundle,
} from '../policy/index.js';
import type { AuditRepository } from '../store/index.js';
import { AdminRefusal, COMMON_ADMIN_ERRORS, registerAdminScope, type AdminError } from './admin-api.js';
import type { AdminAuthorization } from './admin-auth.js';
import { controlAuditEntry } from './control-audit.js';

type Code = keyof typeof COMMON_ADMIN_ERRORS | 'invalid_body';

const ERRORS: Readonly<Record<Code, AdminError>> = {
  ...COMMON_ADMIN_ERRORS,
  invalid_body: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The request body is not valid for this route.',
  },
};

class Refusal extends AdminRefusal<Code> {}

/** At most this many files in a candidate. */
export const MAX_CANDIDATE_FILES = 64;
/** At most this many bytes (UTF-8) of file contents in a candidate, all files together. */
export const MAX_CANDIDATE_BYTES = 256 * 1024;
/** The JSON body: the contents plus escaping (a body above it is 413 body_too_large). */
const BODY_LIMIT = 1024 * 1024;
/** Ledger records a simulation reads: default and maximum. */
export const DEFAULT_SIMULATION_LIMIT = 1000;
export const MAX_SIMULATION_LIMIT = 10_000;
/** Ledger records per query (the store's own maximum). */
const PAGE = 1000;
/** Failed test cases listed in a validation answer (the counts are always exact). */
const MAX_FAILURES = 50;
/** Examples per change category in a simulation answer. */
const EXAMPLES = 5;
/** Characters of a refusal message (the candidate's own diagnostics) sent back. */
const MAX_MESSAGE = 2000;

/** A bundle-relative path: segments of [A-Za-z0-9._-], none `.` or `..`, nothing absolute. */
const PATH = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;
const MAX_PATH = 255;
/** The files a bundle directory contributes (as loadBundle reads them). */
const BUNDLE_FILE = /(?:^|\/)(?:[^/]+\.(?:cedar|cedarschema|json)|playbooks\.yaml)$/;
/** `Date.prototype.toISOString` form, milliseconds optional. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

type WellFormedString = string & { isWellFormed(): boolean };

function objectBody(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Refusal('invalid_body');
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new Refusal('invalid_body', k);
  return o;
}

/** The candidate's files, checked: count, total size, path form and kind. */
function candidateFiles(value: unknown): Map<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Refusal('invalid_body', 'files');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_CANDIDATE_FILES) throw new Refusal('invalid_body', 'files');
  const files = new Map<string, string>();
  let bytes = 0;
  for (const [path, text] of entries) {
    const segments = path.split('/');
    if (
      path.length > MAX_PATH ||
      !PATH.test(path) ||
      segments.some((s) => s === '.' || s === '..') ||
      !BUNDLE_FILE.test(path)
    )
      throw new Refusal('invalid_body', 'files');
    if (typeof text !== 'string' || !(text as WellFormedString).isWellFormed())
      throw new Refusal('invalid_body', 'files');
    bytes += Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_CANDIDATE_BYTES) throw new Refusal('invalid_body', 'files');
    files.set(path, text);
  }
  return files;
}

function sinceOf(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !ISO_TIME.test(value)) throw new Refusal('invalid_body', 'since');
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new Refusal('invalid_body', 'since');
  // The ledger compares `storedAt` as text, in exactly this form.
  return time.toISOString();
}

function limitOf(value: unknown): number {
  if (value === undefined) return DEFAULT_SIMULATION_LIMIT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_SIMULATION_LIMIT)
    throw new Refusal('invalid_body', 'limit');
  return value;
}

type Compiled =
  | { readonly ok: true; readonly bundle: PolicyBundle }
  | { readonly ok: false; readonly code: BundleErrorCode; readonly message: string };

/** Compiles a candidate; a PolicyBundleError is an answer, anything else is unexpected (500). */
function compile(files: ReadonlyMap<string, string>): Compiled {
  try {
    return { ok: true, bundle: compileBundle(files) };
  } catch (err) {
    if (!(err instanceof PolicyBundleError)) throw err;
    const message = err.message.length > MAX_MESSAGE ? `${err.message.slice(0, MAX_MESSAGE)}…` : err.message;
    return { ok: false, code: err.code, message };
  }
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface AdminPolicyCandidatesOptions {
  /** The ledger whose recorded decision inputs a simulation replays (read only). */
  readonly ledger: Pick<AuditRepository, 'list' | 'treeHead'>;
  readonly authorize: AdminAuthorization;
  /** Appends a control entry to the ledger (each validation and simulation is recorded). */
  readonly audit: (entry: AuditEntry) => Promise<unknown>;
  readonly onError: (err: unknown) => void;
}

/**
 * `POST /v1/policy/validate` and `POST /v1/policy/simulate` (both `manage_policy`): the body is
 * `{"files": {"<bundle-relative path>": "<text>", …}}` (at most 64 files, 256 KiB of contents),
 * simulate also takes `since` (ISO time) and `limit` (ledger records, 1-10000, default 1000).
 * A simulation replays the newest `limit` ledger records (stored at or after `since`).
 */
export async function registerAdminPolicyCandidates<Logger extends FastifyBaseLogger>(
  app: FastifyInstance<never, never, never, Logger> | FastifyInstance,
  o: AdminPolicyCandidatesOptions,
): Promise<void> {
  await registerAdminScope(
    app as FastifyInstance,
    {
      errors: ERRORS,
      authorize: (request) => o.authorize(request, 'manage_policy'),
      onError: o.onError,
    },
    (scope, api) => {
      const record = (
        action: 'policy.validate' | 'policy.simulate',
        actor: string,
        compiled: Compiled,
        details: readonly string[],
      ): Promise<unknown> =>
        o.audit(
          controlAuditEntry({
            action,
            target: compiled.ok ? `policy:candidate:${compiled.bundle.digest}` : 'policy:candidate',
            actor,
            authMethod: 'admin',
            outcome: compiled.ok ? 'ok' : 'failed',
            ...(compiled.ok ? {} : { errorCode: compiled.code }),
            details,
          }),
        );

      scope.post('/v1/policy/validate', { bodyLimit: BODY_LIMIT }, async (request, reply) => {
        const body = objectBody(request.body, ['files']);
        const files = candidateFiles(body.files);
        const actor = api.actorOf(request);
        const compiled = compile(files);
        if (!compiled.ok) {
          await record('policy.validate', actor, compiled, [`files:${files.size}`, 'outcome:refused']);
          return reply.send({ ok: false, code: compiled.code, message: compiled.message });
        }
        const { bundle } = compiled;
        const report = runBundleTests(bundle);
        const failed = report.failed.length;
        await record('policy.validate', actor, compiled, [
          `files:${files.size}`,
          `outcome:${failed === 0 ? 'valid' : 'tests_failed'}`,
          `tests:${report.passed}/${report.passed + failed}`,
        ]);
        return reply.send({
          ok: true,
          digest: bundle.digest,
          policyIds: [...bundle.policyIds],
          tests: {
            passed: report.passed,
            failed,
            failures: report.failed.slice(0, MAX_FAILURES).map((f) => ({
              name: f.name,
              expected: f.expected,
              got: f.got,
            })),
          },
        });
      });

      scope.post('/v1/policy/simulate', { bodyLimit: BODY_LIMIT }, async (request, reply) => {
        const body = objectBody(request.body, ['files', 'since', 'limit']);
        const files = candidateFiles(body.files);
        const since = sinceOf(body.since);
        const limit = limitOf(body.limit);
        const actor = api.actorOf(request);
        const compiled = compile(files);
        const facts = [`files:${files.size}`, `limit:${limit}`, ...(since ? [`since:${since}`] : [])];
        if (!compiled.ok) {
          await record('policy.simulate', actor, compiled, [...facts, 'outcome:refused']);
          return reply.send({ ok: false, code: compiled.code, message: compiled.message });
        }
        // Recorded before the ledger is read: who replayed which recorded decisions.
        await record('policy.simulate', actor, compiled, [...facts, 'outcome:simulated']);

        // The newest `limit` records (seq = index + 1): start after size - limit.
        const { size } = await o.ledger.treeHead();
        const start = Math.max(0, size - limit);
        let truncated = start > 0;
        if (truncated && since) {
          const [first] = await o.ledger.list({ since, limit: 1 });
          truncated = first !== undefined && first.seq <= start;
        }
        const simulation = new Simulation(compiled.bundle, { examples: EXAMPLES });
        let scanned = 0;
        for (let afterSeq = start; scanned < limit;) {
          const want = Math.min(PAGE, limit - scanned);
          const page = await o.ledger.list({ afterSeq, limit: want, ...(since ? { since } : {}) });
          for (const r of page) {
            const row = decisionRowOf(r.seq, r.entry);
            if (row) simulation.add(row);
          }
          scanned += page.length;
          const last = page[page.length - 1];
          if (page.length < want || !last) break;
          afterSeq = last.seq;
          await nextTurn(); // replaying is CPU work: let other requests in between pages
        }
        return reply.send({
          ok: true,
          since: since ?? null,
          limit,
          scanned,
          truncated,
          ...simulation.report(),
        });
      });
    },
  );
}
