import type { Obligation, TransformStage, Transformation } from '../core/index.js';

/** Obligation kinds this stage applies (the pipeline refuses a decision carrying others). */
export const TRANSFORM_OBLIGATIONS = ['max_tokens'] as const;

function tokenCap(obligations: readonly Obligation[]): number | undefined {
  const caps = obligations.filter((o) => o.kind === 'max_tokens').map((o) => Number(o.value));
  return caps.length ? Math.min(...caps) : undefined;
}

/**
 * The transform stage: applies the allow's obligations to the request before it leaves.
 * `max_tokens:N` caps a chat answer (`max_tokens`, and `max_completion_tokens` when the client
 * set it) at N: a client asking for more, or for no limit, gets N. The data guard's
 * pseudonymisation joins this stage in issue 6.
 */
export function createTransformer(): TransformStage {
  return async (ctx) => {
    const cap = tokenCap(ctx.decision?.obligations ?? []);
    if (cap === undefined || ctx.request.route !== 'chat.completions') {
      return { request: ctx.request, transformations: [] };
    }
    const body = ctx.request.body;
    const over = (n: number | null | undefined): boolean => n === undefined || n === null || n > cap;
    const capCompletion = body.max_completion_tokens !== undefined && over(body.max_completion_tokens);
    const capMax =
      over(body.max_tokens) && (body.max_tokens !== undefined || body.max_completion_tokens === undefined);
    if (!capMax && !capCompletion) return { request: ctx.request, transformations: [] };
    const transformations: Transformation[] = [{ stage: 'transform', kind: 'max_tokens', count: 1 }];
    return {
      request: {
        route: 'chat.completions',
        body: {
          ...body,
          ...(capMax ? { max_tokens: cap } : {}),
          ...(capCompletion ? { max_completion_tokens: cap } : {}),
        },
      },
      transformations,
    };
  };
}
