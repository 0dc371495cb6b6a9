import type {
  AttributeValue,
  DecideStage,
  Decision,
  RecordedDecisionInput,
  RequestContext,
} from '../core/index.js';
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
  /** Condition guards on (default) or every decision by cedar-wasm (`policy.evaluator: cedar`). */
  readonly guards?: boolean;
  /**
   * Re-decides this share (0..1) of guarded decisions with cedar-wasm alone, after the answer,
   * and reports any difference: a running check that the guards agree with Cedar.
   */
  readonly verify?: {
    readonly sample: number;
    readonly observe: (agreed: boolean, input: DecisionInput, guarded: Decision, engine: Decision) => void;
  };
  readonly random?: () => number;
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
    dataClass: ctx.dataClass ?? options.dataClass,
    risk: ctx.risk ?? 0,
    networkZone: options.networkZone,
    residency: stringAttribute(principal?.attributes.homeRegion) ?? '',
    time: timeOf(ctx.receivedAt),
  };
}

/** The version of {@link RecordedDecisionInput} this build writes (and the only one it replays). */
export const RECORDED_INPUT_VERSION = 1;

/**
 * The JSON-safe record of a decision input: what the engine reads and nothing more (no tokens,
 * no finding locations), plus the model's catalogue attributes as they are now, so that a replay
 * does not depend on a later catalogue.
 */
export function recordDecisionInput(input: DecisionInput, catalogue: ModelCatalogue): RecordedDecisionInput {
  const { principal, device } = input;
  const model = input.resource.type === 'Model' ? catalogue.get(input.resource.id) : undefined;
  return {
    version: RECORDED_INPUT_VERSION,
    ...(principal
      ? {
          principal: {
            kind: principal.kind,
            id: principal.id,
            roles: [...principal.roles],
            groups: [...principal.groups],
            attributes: { ...principal.attributes },
          },
        }
      : {}),
    ...(device
      ? {
          device: {
            id: device.id,
            trust: device.trust,
            managed: device.managed,
            compliant: device.compliant,
          },
        }
      : {}),
    action: input.action,
    resource: { type: input.resource.type, id: input.resource.id },
    ...(input.workspace !== undefined ? { workspace: input.workspace } : {}),
    findings: input.findings.map((f) => ({
      type: f.type,
      ...(f.detector !== undefined ? { detector: f.detector } : {}),
      ...(f.score !== undefined ? { score: f.score } : {}),
    })),
    dataClass: input.dataClass,
    risk: input.risk,
    networkZone: input.networkZone,
    residency: input.residency,
    time: { hour: input.time.hour, weekday: input.time.weekday },
    ...(model ? { model: { ...model } } : {}),
  };
}

/**
 * The decide stage on a Cedar bundle. `decide` is synchronous and never throws: an engine error,
 * missing entity data or a request that does not fit the schema comes back as a deny with its
 * error codes, which the pipeline enforces (anything but allow is a deny). Every decision, a deny
 * too, carries the recorded input (`Decision.input`) for the audit entry and simulation.
 */
export function createCedarDecider(options: CedarDeciderOptions): DecideStage {
  const guards = options.guards ?? true;
  const verify = guards ? options.verify : undefined;
  const random = options.random ?? Math.random;
  return async (ctx) => {
    const input = decisionInputOf(ctx, options);
    const bundle = options.bundle();
    const decision = decide(input, bundle, options.catalogue, { guards });
    if (verify && verify.sample > 0 && random() < verify.sample) {
      setImmediate(() => {
        const engine = decide(input, bundle, options.catalogue, { guards: false });
        verify.observe(sameDecision(decision, engine), input, decision, engine);
      });
    }
    return { ...decision, input: recordDecisionInput(input, options.catalogue) };
  };
}

const sorted = (xs: readonly string[]): string => [...xs].sort().join('\n');

/** Same effect, determining policies, obligations and error codes. */
export function sameDecision(a: Decision, b: Decision): boolean {
  return (
    a.effect === b.effect &&
    sorted(a.determiningPolicies) === sorted(b.determiningPolicies) &&
    sorted(a.obligations.map((o) => `${o.kind}:${o.value}`)) ===
      sorted(b.obligations.map((o) => `${o.kind}:${o.value}`)) &&
    sorted(a.errors) === sorted(b.errors)
  );
}
