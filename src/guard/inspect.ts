import type { Finding, InspectStage } from '../core/index.js';
import { classify, labelsOf, type ClassRule } from './classify.js';
import type { Detectors } from './registry.js';
import { slotRoles, textSlots } from './text-slots.js';
import type { DataClass } from './types.js';

export interface InspectorOptions {
  readonly detectors: Detectors;
  /** The class of a request nothing raises (`policy.dataClass`). */
  readonly baseClass: DataClass;
  readonly rules: readonly ClassRule[];
  readonly labels: boolean;
}

/** Roles whose text may carry an injection: what users, tools and retrieved context supply. */
const UNTRUSTED_ROLES = new Set(['user', 'tool', 'function', 'input']);

/**
 * The inspect stage: runs every configured recognizer over every text slot of the request (the
 * whole conversation: the model sees all of it), scores the text users and tools supplied for
 * prompt injection, and classifies the request. Findings carry type, score and location only,
 * never the text. It never changes the request.
 */
export function createInspector(options?: InspectorOptions): InspectStage {
  if (!options) return async () => ({ findings: [] });
  const { detectors } = options;
  return async (ctx) => {
    const texts = textSlots(ctx.request);
    const roles = slotRoles(ctx.request);
    const findings: Finding[] = [];
    texts.forEach((text, message) => {
      for (const d of detectors.scan(text))
        findings.push({
          detector: d.recognizer,
          type: d.type,
          score: d.score,
          location: { message, start: d.start, end: d.end },
        });
      if (detectors.injection && UNTRUSTED_ROLES.has(roles[message] ?? '')) {
        const verdict = detectors.injection.score(text);
        if (verdict.flagged)
          findings.push({
            detector: 'injection',
            type: 'PROMPT_INJECTION',
            score: verdict.score,
            location: { message, start: 0, end: text.length },
          });
      }
    });
    const labels = options.labels ? labelsOf(ctx.request) : [];
    return { findings, dataClass: classify(options.baseClass, findings, options.rules, labels) };
  };
}
