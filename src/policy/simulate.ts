import { z } from 'zod';
import type { AuditEntry, Obligation } from '../core/index.js';
import type { PolicyBundle } from './bundle.js';
import { RECORDED_INPUT_VERSION } from './cedar-decider.js';
import { classifyChange, type DecisionChange } from './decision-change.js';
import { decide } from './engine.js';
import { TestCaseSchema } from './testcase-format.js';
import { type DecisionInput, type ModelCatalogue } from './types.js';

/** One recorded decision to replay: what was decided then, and from what. */
export interface RecordedDecisionRow {
  readonly seq: number;
  readonly requestId: string;
  /** ISO-8601 time the request arrived. */
  readonly time: string;
  readonly effect: 'allow' | 'deny';
  /** As audited: `kind:value`. */
  readonly obligations: readonly string[];
  readonly determiningPolicies: readonly string[];
  /** The recorded input (`AuditEntry.decisionInput`), unchecked: it comes from storage. */
  readonly input?: unknown;
}

export type ChangeCategory = 'allowedToDenied' | 'deniedToAllowed' | 'obligationsChanged';
export const CHANGE_CATEGORIES: readonly ChangeCategory[] = [
  'allowedToDenied',
  'deniedToAllowed',
  'obligationsChanged',
];

/** One decision as the report shows it. */
export interface DecisionSummary {
  readonly effect: 'allow' | 'deny';
  readonly determiningPolicies: readonly string[];
  readonly obligations: readonly string[];
}

export interface SimulationExample {
  readonly requestId: string;
  readonly time: string;
  readonly principalId: string | null;
  readonly action: string;
  /** `Type::id`, e.g. `Model::llama-onprem`. */
  readonly resource: string;
  readonly before: DecisionSummary;
  readonly after: DecisionSummary & { readonly errors: readonly string[] };
}

export interface SimulationReport {
  /** Digest of the candidate bundle. */
  readonly bundleDigest: string;
  /** Decisions considered (one per request), skipped ones included. */
  readonly total: number;
  /** Same effect; for allows, the same obligations. */
  readonly unchanged: number;
  readonly allowedToDenied: number;
  readonly deniedToAllowed: number;
  /** Allowed before and after, with a different set of obligations. */
  readonly obligationsChanged: number;
  readonly skipped: number;
  readonly skippedReasons: {
    /** Recorded before inputs were (or by a decider that does not record them). */
    readonly noInput: number;
    readonly unknownVersion: number;
    /** Of a known version but not of its shape. */
    readonly invalid: number;
  };
  /** Up to `examples` per category, in the order they were recorded. */
  readonly examples: Readonly<Record<ChangeCategory, readonly SimulationExample[]>>;
}

export interface SimulationOptions {
  /** Examples kept per category. Default 5. */
  readonly examples?: number;
}

/**
 * Rows of one request (a stream's `release` and `complete`, a `refused` after a `release`) are
 * written close together; the last this many request ids are remembered to count each once.
 */
const DEDUPE_WINDOW = 10_000;

const testCase = TestCaseSchema.shape;

/** The shape of version 1 of `RecordedDecisionInput` (principal, device and resource as in a test case). */
const RecordedInputV1 = z.object({
  version: z.literal(RECORDED_INPUT_VERSION),
  principal: testCase.principal.unwrap().optional(),
  device: testCase.device,
  action: testCase.action,
  resource: testCase.resource,
  workspace: z.string().optional(),
  findings: z.array(
    z.object({ type: z.string(), detector: z.string().optional(), score: z.number().optional() }),
  ),
  dataClass: z.string(),
  risk: z.number(),
  networkZone: z.string(),
  residency: z.string(),
  time: z.object({ hour: z.number(), weekday: z.string() }),
  model: z
    .object({
      provider: z.string(),
      region: z.string(),
      runtimeKind: z.enum(['cloud', 'on_prem']),
      attestationKind: z.string(),
      attested: z.boolean(),
      dataClasses: z.array(z.string()),
      workspaces: z.array(z.string()).optional(),
    })
    .optional(),
});

type Replayable = { readonly input: DecisionInput; readonly catalogue: ModelCatalogue | undefined };

/** The decision input and catalogue snapshot of a recorded input, or why it cannot be replayed. */
function replayable(recorded: unknown): Replayable | 'noInput' | 'unknownVersion' | 'invalid' {
  if (recorded === undefined || recorded === null) return 'noInput';
  const version = (recorded as { version?: unknown }).version;
  if (version !== RECORDED_INPUT_VERSION) return 'unknownVersion';
  const parsed = RecordedInputV1.safeParse(recorded);
  if (!parsed.success) return 'invalid';
  const { version: _version, model, ...input } = parsed.data;
  // The model as the catalogue knew it then; without one, the candidate bundle's entities decide.
  return { input, catalogue: model ? new Map([[input.resource.id, model]]) : undefined };
}

const CATEGORIES: Readonly<Record<Exclude<DecisionChange, 'same'>, ChangeCategory>> = {
  allow_to_deny: 'allowedToDenied',
  deny_to_allow: 'deniedToAllowed',
  obligations_changed: 'obligationsChanged',
};

/** An audited obligation (`kind:value`; kinds hold no `:`) as the engine gives it. */
function obligationOf(text: string): Obligation {
  const colon = text.indexOf(':');
  return colon < 0 ? { kind: text, value: '' } : { kind: text.slice(0, colon), value: text.slice(colon + 1) };
}

/**
 * Replays recorded decisions against a candidate bundle, one row at a time (so a caller can
 * stream a large audit log through it), and reports what would change. Pure: no I/O.
 */
export class Simulation {
  private readonly maxExamples: number;
  private readonly seen = new Set<string>();
  private counts = { total: 0, unchanged: 0, allowedToDenied: 0, deniedToAllowed: 0, obligationsChanged: 0 };
  private readonly skippedReasons = { noInput: 0, unknownVersion: 0, invalid: 0 };
  private readonly examples: Record<ChangeCategory, SimulationExample[]> = {
    allowedToDenied: [],
    deniedToAllowed: [],
    obligationsChanged: [],
  };

  constructor(
    private readonly bundle: PolicyBundle,
    options: SimulationOptions = {},
  ) {
    this.maxExamples = Math.max(0, Math.floor(options.examples ?? 5));
  }

  /** Replays one row; a later row of a request already replayed is ignored. */
  add(row: RecordedDecisionRow): void {
    if (this.seen.has(row.requestId)) return;
    this.seen.add(row.requestId);
    if (this.seen.size > DEDUPE_WINDOW) this.seen.delete(this.seen.values().next().value as string);
    this.counts.total++;
    const replay = replayable(row.input);
    if (typeof replay === 'string') {
      this.skippedReasons[replay]++;
      return;
    }
    const decision = decide(replay.input, this.bundle, replay.catalogue);
    const change = classifyChange(
      { effect: row.effect, obligations: row.obligations.map(obligationOf) },
      decision,
    );
    if (change === 'same') {
      this.counts.unchanged++;
      return;
    }
    const category = CATEGORIES[change];
    this.counts[category]++;
    const examples = this.examples[category];
    if (examples.length >= this.maxExamples) return;
    examples.push({
      requestId: row.requestId,
      time: row.time,
      principalId: replay.input.principal?.id ?? null,
      action: replay.input.action,
      resource: `${replay.input.resource.type}::${replay.input.resource.id}`,
      before: {
        effect: row.effect,
        determiningPolicies: [...row.determiningPolicies],
        obligations: [...row.obligations],
      },
      after: {
        effect: decision.effect,
        determiningPolicies: [...decision.determiningPolicies],
        // The audited form, as `before` shows it.
        obligations: decision.obligations.map((o) => `${o.kind}:${o.value}`),
        errors: [...decision.errors],
      },
    });
  }

  report(): SimulationReport {
    const skipped =
      this.skippedReasons.noInput + this.skippedReasons.unknownVersion + this.skippedReasons.invalid;
    return {
      bundleDigest: this.bundle.digest,
      ...this.counts,
      skipped,
      skippedReasons: { ...this.skippedReasons },
      examples: {
        allowedToDenied: [...this.examples.allowedToDenied],
        deniedToAllowed: [...this.examples.deniedToAllowed],
        obligationsChanged: [...this.examples.obligationsChanged],
      },
    };
  }
}

/** Replays every row against the candidate bundle; see {@link Simulation}. */
export function simulate(
  rows: Iterable<RecordedDecisionRow>,
  bundle: PolicyBundle,
  options?: SimulationOptions,
): SimulationReport {
  const simulation = new Simulation(bundle, options);
  for (const row of rows) simulation.add(row);
  return simulation.report();
}

/**
 * The replayable row of a data-plane audit entry, or undefined for entries that record no
 * decision (control-plane rows, requests refused before the decide stage).
 */
export function decisionRowOf(seq: number, entry: AuditEntry): RecordedDecisionRow | undefined {
  if (entry.phase === 'control' || entry.decision === null) return undefined;
  return {
    seq,
    requestId: entry.requestId,
    time: entry.time,
    effect: entry.decision,
    obligations: entry.obligations,
    determiningPolicies: entry.determiningPolicies,
    ...(entry.decisionInput !== undefined ? { input: entry.decisionInput } : {}),
  };
}
