import type { AttributeValue, DecideStage, RequestContext } from '../core/index.js';
import { decide } from './engine.js';
import type { PolicyBundle } from './bundle.js';
import { timeOf, type DecisionInput, type ModelCatalogue, type PolicyAction } from './types.js';

export interface CedarDeciderOptions {
  /** The running bundle; a function so that a reload can swap it between requests. */
  readonly bundle: () => PolicyBundle;
  readonly catalogue: ModelCatalogue;
  /** The request's data class until a classifier sets one. */
  readonly dataClass: string;
  readonly networkZone: string;
  readonly now?: () => number;
}

const ACTIONS: Readonly<Record<RequestContext['request']['route'], PolicyAction>> = {
  'chat.completions': 'chat',
  embeddings: 'embed',
};

function stringAttribute(value: AttributeValue | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The decision input for a data-plane request: plain data from the context, nothing fetched. */
export function decisionInputOf(ctx: Readonly<RequestContext>, options: CedarDeciderOptions): DecisionInput {
  const principal = ctx.principal;
  const body = ctx.request.body as { model?: unknown };
  return {
    ...(principal ? { principal } : {}),
    ...(ctx.device ? { device: ctx.device } : {}),
    action: ACTIONS[ctx.request.route],
    resource: { type: 'Model', id: typeof body.model === 'string' ? body.model : '' },
    findings: ctx.findings,
    dataClass: options.dataClass,
    risk: 0,
    networkZone: options.networkZone,
    residency: stringAttribute(principal?.attributes.homeRegion) ?? '',
    time: timeOf(ctx.receivedAt),
  };
}

/**
 * The decide stage on a Cedar bundle. `decide` is synchronous and never throws: an engine error,
 * missing entity data or a request that does not fit the schema comes back as a deny with its
 * error codes, which the pipeline enforces (anything but allow is a deny).
 */
export function createCedarDecider(options: CedarDeciderOptions): DecideStage {
  return async (ctx) => decide(decisionInputOf(ctx, options), options.bundle(), options.catalogue);
}
