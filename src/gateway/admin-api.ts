import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';

/** A refusal as the admin API shows it: status, OpenAI-style type, fixed message. */
export interface AdminError {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

/** Codes every admin route may answer with. */
export const COMMON_ADMIN_ERRORS = {
  admin_unauthenticated: {
    status: 401,
    type: 'authentication_error',
    message: 'An administrator identity is required.',
  },
  admin_forbidden: {
    status: 403,
    type: 'permission_error',
    message: 'The caller is not allowed to do this.',
  },
  invalid_json: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The request body is not valid JSON.',
  },
  unsupported_media_type: {
    status: 415,
    type: 'invalid_request_error',
    message: 'The request body must be application/json.',
  },
  body_too_large: { status: 413, type: 'invalid_request_error', message: 'The request body is too large.' },
  invalid_query: {
    status: 400,
    type: 'invalid_request_error',
    message: 'The query parameters are not valid.',
  },
  internal_error: { status: 500, type: 'api_error', message: 'Internal error.' },
} as const satisfies Record<string, AdminError>;
export type CommonAdminErrorCode = keyof typeof COMMON_ADMIN_ERRORS;

/** Thrown by a route to answer with one of its stable codes. */
export class AdminRefusal<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    readonly param?: string,
  ) {
    super(code);
  }
}

/**
 * Who may call an admin route. Returns the caller's identity (recorded as the actor),
 * `undefined` when the request carries no usable identity (401), or `false` when the caller may
 * not do this (403).
 */
export type AdminAuthorizer = (
  request: FastifyRequest,
) => string | undefined | false | Promise<string | undefined | false>;

export function sendAdminError<Code extends string>(
  errors: Readonly<Record<Code, AdminError>>,
  reply: FastifyReply,
  code: Code,
  param?: string,
  extra?: object,
): FastifyReply {
  const { status, type, message } = errors[code];
  return reply
    .code(status)
    .type('application/json')
    .send({ error: { message, type, code, param: param ?? null }, ...extra });
}

function codeOf(err: FastifyError): string {
  if (err instanceof AdminRefusal) return err.code;
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'unsupported_media_type';
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'body_too_large';
  if (err.code?.startsWith('FST_ERR_CTP_') || err.statusCode === 400) return 'invalid_json';
  return 'internal_error';
}

type AnyFastify<Logger extends FastifyBaseLogger> = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  Logger
>;

export interface AdminScopeOptions<Code extends string> {
  readonly errors: Readonly<Record<Code | CommonAdminErrorCode, AdminError>>;
  /** Authorises each request before its body is read; the actor is then `actorOf(request)`. */
  readonly authorize: (request: FastifyRequest) => ReturnType<AdminAuthorizer>;
  /** Told of unexpected failures (answered `internal_error`). */
  readonly onError: (err: unknown) => void;
}

export interface AdminScope<Code extends string> {
  /** The authorised caller of a request of this scope. */
  actorOf(request: FastifyRequest): string;
  send(reply: FastifyReply, code: Code | CommonAdminErrorCode, param?: string, extra?: object): FastifyReply;
}

/**
 * Registers admin routes in a scope of their own: every request is authorised before its body
 * is read (an anonymous caller never gets a body parsed), and every refusal has a stable code
 * in `{"error": {"message", "type", "code", "param"}}`, never a stack or internal detail.
 */
export async function registerAdminScope<Code extends string, Logger extends FastifyBaseLogger>(
  app: AnyFastify<Logger>,
  options: AdminScopeOptions<Code>,
  routes: (scope: AnyFastify<Logger>, api: AdminScope<Code>) => void,
): Promise<void> {
  const actors = new WeakMap<FastifyRequest, string>();
  const errors = options.errors as Readonly<Record<string, AdminError>>;
  const api: AdminScope<Code> = {
    actorOf: (request) => {
      const actor = actors.get(request);
      if (actor === undefined) throw new AdminRefusal('admin_unauthenticated');
      return actor;
    },
    send: (reply, code, param, extra) => sendAdminError(errors, reply, code, param, extra),
  };
  await app.register(async (scope) => {
    scope.setErrorHandler((err: FastifyError, _request, reply) => {
      let code = codeOf(err);
      if (!(code in errors)) code = 'internal_error';
      if (code === 'internal_error') options.onError(err);
      const refusal: unknown = err;
      return sendAdminError(errors, reply, code, refusal instanceof AdminRefusal ? refusal.param : undefined);
    });
    scope.addHook('onRequest', async (request, reply) => {
      const actor = await options.authorize(request);
      if (actor === undefined) return sendAdminError(errors, reply, 'admin_unauthenticated');
      if (actor === false || typeof actor !== 'string' || actor === '')
        return sendAdminError(errors, reply, 'admin_forbidden');
      actors.set(request, actor);
      return undefined;
    });
    routes(scope as unknown as AnyFastify<Logger>, api);
  });
}
