// The schemas of the candidate-bundle routes (POST /v1/policy/validate and /simulate) in the admin
// API's OpenAPI document (openapi-schemas.ts merges them).
import { BUNDLE_ERROR_CODES } from '../policy/errors.js';
import { int0, nullable, obj, ref, str, strList, time, type Json } from './openapi-builders.js';

const candidateFiles: Json = {
  type: 'object',
  description:
    'The candidate bundle: bundle-relative path to file text (`policies.cedar`, `schema.cedarschema`, ' +
    '`entities.json`, `tests/*.json`, `runtimes.json`, `playbooks.yaml`, other `*.cedar`). At most 64 ' +
    'files and 256 KiB of contents; paths of [A-Za-z0-9._-] segments, no `.` or `..` segment, not absolute, ' +
    'only the kinds of file a bundle directory contributes (else 400 invalid_body, `param` files).',
  maxProperties: 64,
  propertyNames: { type: 'string', maxLength: 255, pattern: '^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$' },
  additionalProperties: { type: 'string' },
};
const effect: Json = { enum: ['allow', 'deny'] };
const candidateDecision = obj({ effect, determiningPolicies: strList, obligations: strList });
const simulationExamples = { type: 'array', items: ref('SimulationExample') };

export const POLICY_CANDIDATE_SCHEMAS: Json = {
  PolicyValidateRequest: obj({ files: candidateFiles }),
  PolicySimulateRequest: obj(
    {
      files: candidateFiles,
      since: {
        type: 'string',
        format: 'date-time',
        pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,3})?Z$',
        description: 'Only ledger records stored at or after this time (UTC, `toISOString` form).',
      },
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: 10000,
        default: 1000,
        description: 'How many ledger records to read, the newest first chosen (control entries included).',
      },
    },
    ['files'],
  ),
  PolicyCandidateRefused: obj({
    ok: { const: false },
    code: { enum: [...BUNDLE_ERROR_CODES], description: 'Why the candidate does not compile.' },
    message: {
      type: 'string',
      description: "The candidate's own diagnostics (at most about 2000 characters).",
    },
  }),
  PolicyCandidateValidated: obj({
    ok: { const: true },
    digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
    policyIds: strList,
    tests: obj({
      passed: int0,
      failed: { ...int0, description: 'A running gateway refuses a bundle with failing tests.' },
      failures: {
        type: 'array',
        maxItems: 50,
        description: 'The first 50 failed test cases.',
        items: obj({
          name: str,
          expected: obj({ effect, obligations: strList, determiningPolicies: strList, errors: strList }, [
            'effect',
          ]),
          got: obj({ effect, obligations: strList, determiningPolicies: strList, errors: strList }),
        }),
      },
    }),
  }),
  SimulationExample: obj({
    requestId: str,
    time,
    principalId: nullable(str),
    action: str,
    resource: { type: 'string', description: '`Type::id`, e.g. `Model::llama-onprem`.' },
    before: candidateDecision,
    after: obj({ effect, determiningPolicies: strList, obligations: strList, errors: strList }),
  }),
  PolicyCandidateSimulated: obj({
    ok: { const: true },
    since: nullable(time),
    limit: { type: 'integer', minimum: 1, maximum: 10000 },
    scanned: { ...int0, description: 'Ledger records read (control entries included).' },
    truncated: { type: 'boolean', description: 'Older matching records were left out by `limit`.' },
    bundleDigest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
    total: { ...int0, description: 'Decisions considered (one per request), skipped ones included.' },
    unchanged: int0,
    allowedToDenied: int0,
    deniedToAllowed: int0,
    obligationsChanged: int0,
    skipped: int0,
    skippedReasons: obj({ noInput: int0, unknownVersion: int0, invalid: int0 }),
    examples: obj({
      allowedToDenied: simulationExamples,
      deniedToAllowed: simulationExamples,
      obligationsChanged: simulationExamples,
    }),
  }),
};
