/**
 * Stable error codes of the policy decision point. Bundle problems are thrown at load as a
 * PolicyBundleError; request-time problems end up (as `code` or `code:detail`) in
 * `Decision.errors` of a deny.
 */
export const BUNDLE_ERROR_CODES = [
  'policy.bundle_unreadable',
  'policy.bundle_empty',
  'policy.parse_failed',
  'policy.template_unsupported',
  'policy.id_missing',
  'policy.id_duplicate',
  'policy.schema_invalid',
  'policy.validation_failed',
  'policy.obligation_invalid',
  'policy.entities_invalid',
  'policy.tests_invalid',
  /** runtimes.json (reference values of attested runtimes) is not valid. */
  'policy.runtimes_invalid',
  /** playbooks.yaml (incident playbooks) is not valid. */
  'policy.playbooks_invalid',
  /** The bundle's own test cases do not all pass (a running gateway refuses such a bundle). */
  'policy.tests_failed',
] as const;
export type BundleErrorCode = (typeof BUNDLE_ERROR_CODES)[number];

export const DECISION_ERROR_CODES = [
  /** No authenticated principal. */
  'policy.principal_missing',
  /** An entity the request names (model, tool, workspace, principal id) is unknown or incomplete. */
  'policy.entity_missing',
  /** Request, context or entity data does not match the schema. */
  'policy.request_invalid',
  /** Cedar failed to evaluate a policy; the detail is the policy id. */
  'policy.evaluation_error',
  /** Cedar itself failed. */
  'policy.engine_error',
  /** The allow's route:region obligations have an empty intersection. */
  'policy.route_conflict',
] as const;
export type DecisionErrorCode = (typeof DECISION_ERROR_CODES)[number];

export class PolicyBundleError extends Error {
  readonly code: BundleErrorCode;
  readonly details: readonly string[];

  constructor(code: BundleErrorCode, message: string, details: readonly string[] = []) {
    super(`${code}: ${message}${details.length ? ` (${details.slice(0, 5).join('; ')})` : ''}`);
    this.name = 'PolicyBundleError';
    this.code = code;
    this.details = details;
  }
}
