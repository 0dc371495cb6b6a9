import type { Obligation } from '../core/index.js';

/** How an entity type is replaced before the request leaves (by obligation). */
export type ReplacementMethod = 'redact' | 'pseudonymize' | 'hash' | 'mask';

/** Strictest first: what the model learns grows down the list. */
const STRICTNESS: readonly ReplacementMethod[] = ['redact', 'pseudonymize', 'hash', 'mask'];

export interface ReplacementPlan {
  /** The method per entity type; types not listed pass unchanged. */
  readonly methods: ReadonlyMap<string, ReplacementMethod>;
  /** Types whose pseudonyms are restored in the answer: `all`, or a set (empty: none). */
  readonly reveal: 'all' | ReadonlySet<string>;
}

/**
 * The replacement per entity type from an allow's obligations: when several obligations name
 * a type, the strictest method wins (redact, then pseudonymize, then hash, then mask). Without a
 * `reveal` obligation nothing is restored.
 */
export function replacementPlan(obligations: readonly Obligation[]): ReplacementPlan {
  const methods = new Map<string, ReplacementMethod>();
  let reveal: 'all' | Set<string> = new Set();
  for (const o of obligations) {
    if (o.kind === 'reveal') {
      reveal = o.value === 'all' ? 'all' : new Set(o.value === 'none' ? [] : o.value.split(','));
      continue;
    }
    if (!(STRICTNESS as readonly string[]).includes(o.kind)) continue;
    const method = o.kind as ReplacementMethod;
    for (const type of o.value.split(',')) {
      const had = methods.get(type);
      if (had === undefined || STRICTNESS.indexOf(method) < STRICTNESS.indexOf(had))
        methods.set(type, method);
    }
  }
  return { methods, reveal };
}

export function reveals(plan: ReplacementPlan, type: string): boolean {
  return plan.reveal === 'all' || plan.reveal.has(type);
}
