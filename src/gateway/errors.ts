import type { FastifyError, FastifyReply } from 'fastify';
import { ZtError, errorBody, IngressError } from '../core/index.js';

/** Fastify's own error codes, mapped to ours. */
const FASTIFY_CODES: Readonly<Record<string, () => ZtError>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new IngressError('body_too_large'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new IngressError('unsupported_media_type'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new IngressError('invalid_json'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new IngressError('invalid_request'),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new IngressError('invalid_json'),
};

interface ValidationIssue {
  readonly instancePath: string;
  readonly keyword: string;
  readonly message?: string;
}

function fromValidation(issues: readonly ValidationIssue[]): ZtError {
  const first = issues[0];
  if (!first) return new IngressError('invalid_request');
  if (first.keyword === 'maxItems' && first.instancePath === '/messages')
    return new IngressError('too_many_messages');
  const path = first.instancePath === '' ? 'body' : first.instancePath.slice(1).replace(/\//g, '.');
  return new IngressError('invalid_request', {
    publicDetail: `${path} ${first.message ?? 'is invalid'}.`,
    param: path,
  });
}

/**
 * The one place that maps any error to what a client sees: a ZtError, with its fixed public
 * message. Anything unknown becomes `internal_error`; details go to the log only.
 */
export function toZtError(err: unknown): ZtError {
  if (err instanceof ZtError) return err;
  const fe = err as Partial<FastifyError> & { validation?: readonly ValidationIssue[] };
  if (fe.validation) return fromValidation(fe.validation);
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return mapped();
  if (fe.statusCode === 413) return new IngressError('body_too_large');
  if (fe.statusCode === 415) return new IngressError('unsupported_media_type');
  return new ZtError('internal_error', undefined, { cause: err });
}

export function sendError(reply: FastifyReply, err: ZtError): FastifyReply {
  return reply
    .code(err.status)
    .type('application/json')
    .send(JSON.stringify(errorBody(err)));
}
