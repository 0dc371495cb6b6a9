import type { Decision } from '../core/index.js';
import { classifyChange, type DecisionChange } from '../policy/decision-change.js';
import type { DecisionInput } from '../policy/index.js';

/** One request the shadow bundle would have decided differently (no prompt text, only inputs). */
export interface ShadowDifference {
  readonly at: string;
  readonly requestId: string;
  readonly change: Exclude<DecisionChange, 'same'>;
  readonly principalId: string | null;
  readonly action: string;
  readonly resource: string;
  readonly live: DecisionSummary;
  readonly shadow: DecisionSummary;
}

export interface DecisionSummary {
  readonly effect: Decision['effect'];
  readonly bundleDigest: string;
  readonly determiningPolicies: readonly string[];
  readonly obligations: readonly string[];
  readonly errors: readonly string[];
}

const summary = (d: Decision): DecisionSummary => ({
  effect: d.effect,
  bundleDigest: d.bundleDigest,
  determiningPolicies: [...d.determiningPolicies],
  obligations: d.obligations.map((o) => `${o.kind}:${o.value}`),
  errors: [...d.errors],
});

/**
 * Keeps the latest differences between live and shadow decisions (a bounded ring, newest
 * first) and reports every comparison to `observe` (metrics) and each difference to
 * `onDifference` (the log).
 */
export class ShadowRecorder {
  readonly #ring: ShadowDifference[] = [];

  constructor(
    private readonly capacity: number,
    private readonly observe: (change: DecisionChange) => void,
    private readonly onDifference: (difference: ShadowDifference) => void,
  ) {}

  compare(requestId: string, input: DecisionInput, live: Decision, shadow: Decision): DecisionChange {
    const change = classifyChange(live, shadow);
    this.observe(change);
    if (change === 'same') return change;
    const difference: ShadowDifference = {
      at: new Date().toISOString(),
      requestId,
      change,
      principalId: input.principal?.id ?? null,
      action: input.action,
      resource: `${input.resource.type}::${input.resource.id}`,
      live: summary(live),
      shadow: summary(shadow),
    };
    this.#ring.unshift(difference);
    if (this.#ring.length > this.capacity) this.#ring.length = this.capacity;
    this.onDifference(difference);
    return change;
  }

  list(limit: number): readonly ShadowDifference[] {
    return this.#ring.slice(0, limit);
  }

  clear(): void {
    this.#ring.length = 0;
  }
}
