// The JSON schemas of the admin API's OpenAPI document (openapi.ts): the bodies the handlers send
// and accept, the stable error codes, and the helpers that build an operation's error responses.
// Response schemas say `additionalProperties: false` wherever a handler sends a fixed shape, so
// that the contract test fails when the implementation adds a field this document does not name.
import { COMMON_ADMIN_ERRORS } from './admin-api.js';

/** A JSON value as this document holds it (typed loosely on purpose: it is served as is). */
export type Json = Record<string, unknown>;

export const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
export const str: Json = { type: 'string' };
export const time: Json = { type: 'string', format: 'date-time' };
export const int0: Json = { type: 'integer', minimum: 0 };
export const strList: Json = { type: 'array', items: str };
export const nullable = (s: Json): Json => ({ ...s, type: [s.type as string, 'null'] });
/** An object with exactly these properties: `required` lists the ones always sent. */
export const obj = (properties: Json, required: readonly string[] = Object.keys(properties)): Json => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties,
});

/**
 * Every stable error code of the admin API: its HTTP status and OpenAI-style type. Mirrors the
 * ERRORS tables of src/gateway/admin*.ts (the contract test compares them).
 */
export const ERROR_CODES: Readonly<Record<string, { readonly status: number; readonly type: string }>> = {
  ...Object.fromEntries(
    Object.entries(COMMON_ADMIN_ERRORS).map(([code, e]) => [code, { status: e.status, type: e.type }]),
  ),
  invalid_body: { status: 400, type: 'invalid_request_error' },
  invalid_kind: { status: 400, type: 'invalid_request_error' },
  invalid_value: { status: 400, type: 'invalid_request_error' },
  invalid_reason: { status: 400, type: 'invalid_request_error' },
  invalid_ttl: { status: 400, type: 'invalid_request_error' },
  revocation_unavailable: { status: 503, type: 'api_error' },
  audit_failed: { status: 500, type: 'api_error' },
  policy_bundle_refused: { status: 422, type: 'invalid_request_error' },
  no_checkpoint: { status: 404, type: 'not_found_error' },
  index_out_of_range: { status: 400, type: 'invalid_request_error' },
  size_out_of_range: { status: 400, type: 'invalid_request_error' },
  ledger_unavailable: { status: 503, type: 'api_error' },
  incident_not_found: { status: 404, type: 'not_found_error' },
  incident_transition: { status: 409, type: 'invalid_request_error' },
  incident_conflict: { status: 409, type: 'api_error' },
  quarantine_not_found: { status: 404, type: 'not_found_error' },
  approval_not_found: { status: 404, type: 'not_found_error' },
  approval_not_pending: { status: 409, type: 'invalid_request_error' },
  approval_conflict: { status: 409, type: 'api_error' },
  approval_expired: { status: 410, type: 'invalid_request_error' },
  four_eyes_required: { status: 403, type: 'permission_error' },
  key_not_found: { status: 404, type: 'not_found_error' },
  key_rotation_failed: { status: 503, type: 'api_error' },
  key_version_not_found: { status: 404, type: 'not_found_error' },
  key_version_in_use: { status: 409, type: 'invalid_request_error' },
  key_destroy_failed: { status: 503, type: 'api_error' },
};

/** Codes every admin-scope route can answer: no identity, denied by policy, an unexpected failure. */
export const AUTHZ = ['admin_unauthenticated', 'admin_forbidden', 'internal_error'] as const;
/** Codes of a route that reads a JSON body (Fastify's content-type parser and body limit). */
export const BODY = ['invalid_json', 'unsupported_media_type', 'body_too_large'] as const;

/**
 * The error responses of an operation: one per status, each an AdminError whose `code` is one of
 * the codes this route can answer with that status. `special` replaces the body schema of a code
 * that carries more than `error` (as `anyOf` with the plain form of the status's other codes).
 */
export function errorResponses(codes: readonly string[], special: Readonly<Record<string, Json>> = {}): Json {
  const byStatus = new Map<number, string[]>();
  for (const code of codes) {
    const known = ERROR_CODES[code];
    if (!known) throw new Error(`openapi: unknown error code ${code}`);
    byStatus.set(known.status, [...(byStatus.get(known.status) ?? []), code]);
  }
  const out: Json = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const plain = list.filter((c) => !special[c]);
    const narrowed = (cs: readonly string[]): Json => ({
      type: 'object',
      properties: {
        error: {
          type: 'object',
          properties: {
            code: { enum: cs },
            type: { enum: [...new Set(cs.map((c) => ERROR_CODES[c]!.type))] },
          },
        },
      },
    });
    const variants = [
      ...(plain.length ? [{ allOf: [ref('AdminError'), narrowed(plain)] }] : []),
      ...list.filter((c) => special[c]).map((c) => ({ allOf: [special[c]!, narrowed([c])] })),
    ];
    out[String(status)] = {
      description: `Refused: ${list.join(', ')}.`,
      content: { 'application/json': { schema: variants.length === 1 ? variants[0] : { anyOf: variants } } },
    };
  }
  return out;
}

/** The `error` member of AdminError (for the bodies that carry more than `error`). */
export const json = (schema: Json, description = 'OK.'): Json => ({
  description,
  content: { 'application/json': { schema } },
});
export const list = (items: Json): Json => ({ type: 'array', items });
export const UNKNOWN_QUERY = 'Any other query parameter is refused (400 invalid_query, `param` names it).';

export const query = (name: string, schema: Json, description: string, required = false): Json => ({
  name,
  in: 'query',
  required,
  description,
  schema,
});
export const pathParam = (name: string, description: string, schema: Json = { type: 'string' }): Json => ({
  name,
  in: 'path',
  required: true,
  description,
  schema,
});
export const limit = (fallback: number, max = 1000, note = ''): Json =>
  query(
    'limit',
    { type: 'integer', minimum: 1, maximum: max, default: fallback },
    `How many to return: decimal 1-${max}, no leading zeros${note}.`,
  );
export const decimal = (name: string, description: string, required = false): Json =>
  query(name, { type: 'string', pattern: '^(?:0|[1-9][0-9]{0,14})$' }, description, required);
export const isoTime = (name: string, description: string): Json =>
  query(
    name,
    { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,3})?Z$' },
    description,
  );

export interface Operation {
  readonly id: string;
  readonly summary: string;
  readonly tag: string;
  /** The Cedar action the caller is authorised for before the body is read; absent: none. */
  readonly action?: string;
  /** Actions policy decides again inside the handler (with who acts and who already approved). */
  readonly alsoDecided?: readonly string[];
  readonly description?: string;
  readonly parameters?: readonly Json[];
  readonly body?: { readonly schema: Json; readonly required: boolean; readonly description?: string };
  /** The success responses; `returns` is shorthand for 200 with that component schema. */
  readonly ok?: Readonly<Record<string, Json>>;
  readonly returns?: string;
  readonly errors?: readonly string[];
  readonly special?: Readonly<Record<string, Json>>;
}

export function op(o: Operation): Json {
  return {
    operationId: o.id,
    summary: o.summary,
    tags: [o.tag],
    ...(o.description ? { description: o.description } : {}),
    ...(o.action
      ? { 'x-ztgate-action': o.action }
      : {
          security: [],
          'x-ztgate-action': null,
        }),
    ...(o.alsoDecided ? { 'x-ztgate-decided-again': o.alsoDecided } : {}),
    ...(o.parameters ? { parameters: o.parameters } : {}),
    ...(o.body
      ? {
          requestBody: {
            required: o.body.required,
            ...(o.body.description ? { description: o.body.description } : {}),
            content: { 'application/json': { schema: o.body.schema } },
          },
        }
      : {}),
    responses: {
      ...(o.returns ? { 200: json(ref(o.returns)) } : {}),
      ...o.ok,
      ...(o.errors ? errorResponses(o.errors, o.special) : {}),
    },
  };
}

export const authorised = (action: string, ...codes: string[]): Pick<Operation, 'action' | 'errors'> => ({
  action,
  errors: [...AUTHZ, ...codes],
});
export const incidentId = pathParam('id', 'The incident id (`inc_` and 16 characters).');
export const approvalId = pathParam('id', 'The approval id (`apr_` and 22 characters).');
export const note = (field: string): Operation['body'] => ({
  schema: obj(
    { [field]: { type: 'string', minLength: 1, maxLength: 500, description: 'Printable text.' } },
    [],
  ),
  required: false,
  description: `Optional: no body, \`null\`, or an object with only \`${field}\`.`,
});
export const release = (status: string, description: string): Json =>
  json(obj({ status: { const: status }, approvedBy: list({ type: 'string' }) }), description);
export const text = (description: string): Json => ({
  description,
  content: { 'text/plain': { schema: { type: 'string' } } },
});
