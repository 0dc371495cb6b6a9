/**
 * The typed error family. Every error a client can see is a ZtError with a stable `code`;
 * the public message is fixed per code (see ERROR_CATALOGUE) so that no internals leak.
 * `cause` and `logDetail` go to the log under the request id, never to the client.
 */

/** OpenAI error `type` values that our codes map to. */
export type OpenAiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'api_error';

interface CatalogueEntry {
  readonly status: number;
  readonly type: OpenAiErrorType;
  readonly message: string;
}

export const ERROR_CATALOGUE = {
  // ingress
  invalid_json: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The request body is not valid JSON.',
  },
  invalid_request: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The request does not match the API schema.',
  },
  json_too_deep: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The request body is nested too deeply.',
  },
  too_many_messages: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The request has too many messages.',
  },
  invalid_unicode: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The request contains malformed Unicode text.',
  },
  unsupported_media_type: {
    status: 415,
    type: 'invalid_request_error',
    message: 'The request body must be application/json.',
  },
  body_too_large: { status: 413, type: 'invalid_request_error', message: 'The request body is too large.' },
  headers_too_large: {
    status: 431,
    type: 'invalid_request_error',
    message: 'The request headers are too large.',
  },
  request_timeout: {
    status: 408,
    type: 'invalid_request_error',
    message: 'The request was not received in time.',
  },
  route_not_found: { status: 404, type: 'not_found_error', message: 'No such endpoint.' },
  method_not_allowed: { status: 405, type: 'invalid_request_error', message: 'Method not allowed.' },
  // authenticate
  unauthenticated: {
    status: 401,
    type: 'authentication_error',
    message: 'Authentication is required and the credentials were missing or not accepted.',
  },
  authentication_unavailable: {
    status: 503,
    type: 'api_error',
    message: 'Identity could not be verified right now.',
  },
  // inspect
  inspection_failed: { status: 503, type: 'api_error', message: 'The request could not be inspected.' },
  // decide
  policy_denied: {
    status: 403,
    type: 'permission_error',
    message: 'The request is not permitted by policy.',
  },
  policy_unavailable: { status: 503, type: 'api_error', message: 'No policy decision could be made.' },
  approval_not_found: { status: 404, type: 'not_found_error', message: 'No such approval for this caller.' },
  approval_expired: { status: 410, type: 'invalid_request_error', message: 'The approval has expired.' },
  quarantined: {
    status: 403,
    type: 'permission_error',
    message: 'Requests from this account, device or workspace are suspended by the security team.',
  },
  obligation_unenforceable: {
    status: 503,
    type: 'api_error',
    message: 'Policy requires a protection this gateway cannot apply; the request was not sent.',
  },
  // transform
  transform_failed: {
    status: 503,
    type: 'api_error',
    message: 'The request could not be prepared for the model.',
  },
  // route
  model_not_found: {
    status: 404,
    type: 'not_found_error',
    message: 'The model does not exist or is not available.',
  },
  no_route: { status: 503, type: 'api_error', message: 'No model runtime may serve this request right now.' },
  route_not_permitted: {
    status: 403,
    type: 'permission_error',
    message: 'Policy does not permit this model to serve this request (region).',
  },
  runtime_unavailable: {
    status: 503,
    type: 'api_error',
    message: 'No model runtime with verified attestation may serve this model right now.',
  },
  routing_failed: { status: 503, type: 'api_error', message: 'The request could not be routed.' },
  // upstream
  upstream_error: { status: 502, type: 'api_error', message: 'The model runtime returned an error.' },
  upstream_unavailable: {
    status: 502,
    type: 'api_error',
    message: 'The model runtime could not be reached.',
  },
  upstream_timeout: { status: 504, type: 'api_error', message: 'The model runtime did not answer in time.' },
  upstream_rejected: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The model runtime rejected the request.',
  },
  upstream_rate_limited: {
    status: 429,
    type: 'rate_limit_error',
    message: 'The model runtime is rate limiting.',
  },
  // scan output
  output_blocked: {
    status: 502,
    type: 'api_error',
    message: 'The answer was withheld: it contained data that may not be released.',
  },
  output_scan_failed: {
    status: 503,
    type: 'api_error',
    message: 'The answer could not be checked and was withheld.',
  },
  // record
  audit_unavailable: {
    status: 503,
    type: 'api_error',
    message: 'The request could not be recorded and was not served.',
  },
  // anything else
  internal_error: { status: 500, type: 'api_error', message: 'Internal error.' },
  not_ready: { status: 503, type: 'api_error', message: 'The gateway is not ready.' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The pipeline stage an error belongs to (used for metrics and for fail-closed mapping). */
export type StageName =
  | 'ingress'
  | 'authenticate'
  | 'inspect'
  | 'decide'
  | 'transform'
  | 'route'
  | 'upstream'
  | 'scan_output'
  | 'record'
  | 'release';

export interface ZtErrorOptions {
  /** Safe, client-caused detail (for example a schema path); appended to the public message. */
  readonly publicDetail?: string;
  /** The request parameter at fault, as OpenAI's `param`. */
  readonly param?: string;
  /** Internal detail for the log only. */
  readonly logDetail?: string;
  readonly cause?: unknown;
}

export class ZtError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: OpenAiErrorType;
  readonly publicDetail: string | undefined;
  readonly param: string | undefined;
  readonly logDetail: string | undefined;
  readonly stage: StageName | undefined;

  constructor(code: ErrorCode, stage?: StageName, options: ZtErrorOptions = {}) {
    const entry = ERROR_CATALOGUE[code];
    super(entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ZtError';
    this.code = code;
    this.status = entry.status;
    this.type = entry.type;
    this.stage = stage;
    this.publicDetail = options.publicDetail;
    this.param = options.param;
    this.logDetail = options.logDetail;
  }

  /** The message a client sees: the fixed text for the code, plus safe detail if any. */
  get publicMessage(): string {
    return this.publicDetail ? `${this.message} ${this.publicDetail}` : this.message;
  }
}

export class IngressError extends ZtError {
  constructor(code: ErrorCode, options?: ZtErrorOptions) {
    super(code, 'ingress', options);
    this.name = 'IngressError';
  }
}

export class AuthenticationError extends ZtError {
  constructor(code: 'unauthenticated' | 'authentication_unavailable', options?: ZtErrorOptions) {
    super(code, 'authenticate', options);
    this.name = 'AuthenticationError';
  }
}

export class PolicyError extends ZtError {
  constructor(
    code: 'policy_denied' | 'policy_unavailable' | 'obligation_unenforceable' | 'quarantined',
    options?: ZtErrorOptions,
  ) {
    super(code, 'decide', options);
    this.name = 'PolicyError';
  }
}

export class RouteError extends ZtError {
  constructor(
    code: 'model_not_found' | 'no_route' | 'route_not_permitted' | 'runtime_unavailable' | 'routing_failed',
    options?: ZtErrorOptions,
  ) {
    super(code, 'route', options);
    this.name = 'RouteError';
  }
}

export class UpstreamError extends ZtError {
  /** True when nothing was sent upstream, or the upstream refused before doing work: safe to retry. */
  readonly retryable: boolean;
  constructor(
    code:
      | 'upstream_error'
      | 'upstream_unavailable'
      | 'upstream_timeout'
      | 'upstream_rejected'
      | 'upstream_rate_limited',
    options: ZtErrorOptions & { retryable?: boolean } = {},
  ) {
    super(code, 'upstream', options);
    this.name = 'UpstreamError';
    this.retryable = options.retryable ?? false;
  }
}

export class OutputBlockedError extends ZtError {
  /** The finding types that blocked the answer (recorded as findings of the refused request). */
  readonly blocked: readonly string[];
  constructor(options?: ZtErrorOptions & { readonly blocked?: readonly string[] }) {
    super('output_blocked', 'scan_output', options);
    this.name = 'OutputBlockedError';
    this.blocked = options?.blocked ?? [];
  }
}

export class RecordError extends ZtError {
  constructor(options?: ZtErrorOptions) {
    super('audit_unavailable', 'record', options);
    this.name = 'RecordError';
  }
}

/**
 * The code a stage fails with when it throws something that is not a ZtError, or times out.
 * INVARIANT: every stage fails closed: an unexpected error refuses the request.
 */
export const STAGE_FAILURE_CODE: Record<StageName, ErrorCode> = {
  ingress: 'invalid_request',
  authenticate: 'authentication_unavailable',
  inspect: 'inspection_failed',
  decide: 'policy_unavailable',
  transform: 'transform_failed',
  route: 'routing_failed',
  upstream: 'upstream_error',
  scan_output: 'output_scan_failed',
  record: 'audit_unavailable',
  release: 'internal_error',
};

export function isZtError(err: unknown): err is ZtError {
  return err instanceof ZtError;
}

/** A thrown value for the log: its stable code (key errors and the like carry one) and message. */
function describeCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
}

/** Wraps anything a stage threw into that stage's typed failure. */
export function asStageError(stage: StageName, err: unknown): ZtError {
  if (err instanceof ZtError) return err;
  return new ZtError(STAGE_FAILURE_CODE[stage], stage, {
    cause: err,
    logDetail: describeCause(err),
  });
}

/** The OpenAI error body for an error. */
export function errorBody(err: ZtError): {
  error: { message: string; type: OpenAiErrorType; code: ErrorCode; param: string | null };
} {
  return { error: { message: err.publicMessage, type: err.type, code: err.code, param: err.param ?? null } };
}
