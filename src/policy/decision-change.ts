import type { Decision } from '../core/index.js';

/** How a second decision differs from a first, for simulation and shadow mode. */
export type DecisionChange = 'same' | 'allow_to_deny' | 'deny_to_allow' | 'obligations_changed';

const obligationSet = (d: Pick<Decision, 'obligations'>): string =>
  d.obligations
    .map((o) => `${o.kind}:${o.value}`)
    .sort()
    .join('\n');

/** Effects first; between two allows, the merged obligation sets. */
export function classifyChange(
  before: Pick<Decision, 'effect' | 'obligations'>,
  after: Pick<Decision, 'effect' | 'obligations'>,
): DecisionChange {
  if (before.effect !== after.effect) return before.effect === 'allow' ? 'allow_to_deny' : 'deny_to_allow';
  if (before.effect === 'allow' && obligationSet(before) !== obligationSet(after))
    return 'obligations_changed';
  return 'same';
}
