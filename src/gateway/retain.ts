import type { RequestContext, RetainRequest } from '../core/index.js';
import { parseObligation } from '../policy/obligations.js';

/** True when the decision carries a `retain` obligation. */
export function retains(ctx: Readonly<RequestContext>): boolean {
  return ctx.decision?.obligations.some((o) => o.kind === 'retain') === true;
}

/**
 * What the decision's `retain` obligation asks the record stage to keep, or undefined when there
 * is none. The prompt is the body as received (its SHA-256 is the entry's promptSha256), the
 * answer the released text (its SHA-256 is the entry's answerSha256), so kept content can be
 * checked against the ledger.
 */
export function retainRequestOf(
  ctx: Readonly<RequestContext>,
  parts: { readonly prompt: boolean; readonly answer: string | null },
): RetainRequest | undefined {
  const obligation = ctx.decision?.obligations.find((o) => o.kind === 'retain');
  if (!obligation) return undefined;
  const parsed = parseObligation(`retain:${obligation.value}`);
  // The policy layer only lets well-formed obligations through; anything else fails closed.
  if (typeof parsed === 'string' || parsed.kind !== 'retain') throw new Error('malformed retain obligation');
  return {
    hours: parsed.hours,
    subject: ctx.principal?.id ?? null,
    prompt: parts.prompt ? (ctx.rawBody?.toString('utf8') ?? JSON.stringify(ctx.request.body)) : '',
    answer: parts.answer,
  };
}
