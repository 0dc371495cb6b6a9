/**
 * The secret recognizer: provider tokens, private keys, JWTs, credentials in URLs and generic
 * high-entropy assignments. Pure, synchronous, linear in its input; never keeps the text.
 */
import type { Detection, Recognizer } from '../types.js';
import { runRules } from './engine.js';
import { ALL_RULES } from './rules/index.js';
import type { SecretRule } from './types.js';

export type { SecretRule, SecretFamily, PatternRule, ContextRule, ScannerRule } from './types.js';
export { SECRET_FAMILIES } from './types.js';
export { DATASET_RULE_ALIASES } from './aliases.js';
export { shannonEntropy, isPlaceholder } from './text.js';

/** The built-in rule table (id, family, description, pattern(s), keywords). */
export const SECRET_RULES: readonly SecretRule[] = ALL_RULES;

/** Every RegExp the built-in rules run (for the ReDoS check). */
export function secretRulePatterns(rules: readonly SecretRule[] = SECRET_RULES): RegExp[] {
  const out: RegExp[] = [];
  for (const r of rules) {
    if (r.kind === 'pattern') {
      out.push(r.pattern);
      if (r.gate !== undefined) out.push(r.gate);
    } else if (r.kind === 'scanner') out.push(...r.patterns);
    else if (r.shape !== undefined) out.push(r.shape);
  }
  return out;
}

/** Creates the `secret` recognizer. Overlapping hits of different rules are all reported. */
export function createSecretRecognizer(): Recognizer {
  return {
    name: 'secret',
    types: ['SECRET'],
    detect(text: string): Detection[] {
      const seen = new Set<string>();
      const out: Detection[] = [];
      for (const h of runRules(SECRET_RULES, text)) {
        const k = `${h.rule}:${h.start}:${h.end}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({
          type: 'SECRET',
          start: h.start,
          end: h.end,
          score: h.score,
          recognizer: 'secret',
          rule: h.rule,
        });
      }
      return out.sort((a, b) => a.start - b.start || a.end - b.end);
    },
  };
}
