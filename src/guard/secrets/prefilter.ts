/**
 * One pass over the text that tells which rule keywords occur in it: keywords are bucketed by
 * their first two characters, so the pass costs one table look-up per character plus a
 * `startsWith` per candidate — instead of one full-text `indexOf` per keyword.
 */
import type { SecretRule } from './types.js';

interface KeywordIndex {
  /** bigram (c0 * 128 + c1) → keywords starting with it */
  readonly buckets: Map<number, string[]>;
  /** keywords of one character or with a non-ASCII start, checked with `includes` */
  readonly short: string[];
}

const indexCache = new WeakMap<readonly SecretRule[], KeywordIndex>();

function buildIndex(rules: readonly SecretRule[]): KeywordIndex {
  const buckets = new Map<number, string[]>();
  const short: string[] = [];
  const seen = new Set<string>();
  for (const r of rules) {
    for (const k of r.keywords) {
      if (seen.has(k)) continue;
      seen.add(k);
      const c0 = k.charCodeAt(0);
      const c1 = k.charCodeAt(1);
      if (k.length < 2 || c0 >= 128 || c1 >= 128) {
        short.push(k);
        continue;
      }
      const key = c0 * 128 + c1;
      const list = buckets.get(key) ?? [];
      list.push(k);
      buckets.set(key, list);
    }
  }
  return { buckets, short };
}

/** The set of keywords (of any rule in `rules`) that occur in `lower`. */
export function presentKeywords(rules: readonly SecretRule[], lower: string): Set<string> {
  let index = indexCache.get(rules);
  if (index === undefined) {
    index = buildIndex(rules);
    indexCache.set(rules, index);
  }
  const found = new Set<string>();
  for (const k of index.short) if (lower.includes(k)) found.add(k);
  const n = lower.length - 1;
  for (let i = 0; i < n; i++) {
    const c0 = lower.charCodeAt(i);
    const c1 = lower.charCodeAt(i + 1);
    if (c0 >= 128 || c1 >= 128) continue;
    const list = index.buckets.get(c0 * 128 + c1);
    if (list === undefined) continue;
    for (const k of list) if (!found.has(k) && lower.startsWith(k, i)) found.add(k);
  }
  return found;
}

/** Rules whose keywords occur (rules without keywords always run). */
export function activeRules(rules: readonly SecretRule[], lower: string): SecretRule[] {
  const found = presentKeywords(rules, lower);
  return rules.filter((r) => r.keywords.length === 0 || r.keywords.some((k) => found.has(k)));
}
