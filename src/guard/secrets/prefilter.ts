/**
 * One pass over the text that tells which rule keywords occur in it: keywords are bucketed by
 * their first two characters in a flat table, so the pass costs one typed-array look-up per
 * character plus a `startsWith` per candidate — instead of one full-text `indexOf` per keyword.
 */
import type { SecretRule } from './types.js';

interface KeywordIndex {
  /** Every distinct keyword; a keyword's id is its index here. */
  readonly keywords: readonly string[];
  /** bigram (c0 * 128 + c1) → bucket number + 1 (0: no keyword starts with it) */
  readonly bigram: Uint16Array;
  /** c0 → 1 when some bucketed keyword starts with it */
  readonly first: Uint8Array;
  /** hashed trigram → 1 when some bucketed keyword starts with it (or is two characters long) */
  readonly tri: Uint8Array;
  /** bucket number → ids of the keywords starting with its bigram */
  readonly buckets: readonly (readonly number[])[];
  /** ids of keywords of one character or with a non-ASCII start, checked with `includes` */
  readonly short: readonly number[];
  /** per rule (same order as the rules): ids of its keywords */
  readonly ruleKeywords: readonly (readonly number[])[];
}

const indexCache = new WeakMap<readonly SecretRule[], KeywordIndex>();

function buildIndex(rules: readonly SecretRule[]): KeywordIndex {
  const keywords: string[] = [];
  const ids = new Map<string, number>();
  const bigram = new Uint16Array(128 * 128);
  const first = new Uint8Array(128);
  const tri = new Uint8Array(TRI_SIZE);
  const buckets: number[][] = [];
  const short: number[] = [];
  const ruleKeywords: number[][] = [];
  for (const r of rules) {
    const own: number[] = [];
    for (const k of r.keywords) {
      let id = ids.get(k);
      if (id === undefined) {
        id = keywords.length;
        keywords.push(k);
        ids.set(k, id);
        const c0 = k.charCodeAt(0);
        const c1 = k.charCodeAt(1);
        if (k.length < 2 || c0 >= 128 || c1 >= 128) short.push(id);
        else {
          const key = c0 * 128 + c1;
          let b = bigram[key] ?? 0;
          if (b === 0) {
            buckets.push([]);
            b = buckets.length;
            bigram[key] = b;
          }
          buckets[b - 1]?.push(id);
          first[c0] = 1;
          if (k.length === 2) for (let c2 = 0; c2 < 128; c2++) tri[trigram(key, c2)] = 1;
          else tri[trigram(key, k.charCodeAt(2))] = 1;
        }
      }
      own.push(id);
    }
    ruleKeywords.push(own);
  }
  return { keywords, bigram, first, tri, buckets, short, ruleKeywords };
}

const TRI_SIZE = 1 << 16;

/** A hash of (bigram, third character); collisions only cost an extra `startsWith`. */
function trigram(key: number, c2: number): number {
  return (key * 131 + (c2 & 127)) & (TRI_SIZE - 1);
}

function indexFor(rules: readonly SecretRule[]): KeywordIndex {
  let index = indexCache.get(rules);
  if (index === undefined) {
    index = buildIndex(rules);
    indexCache.set(rules, index);
  }
  return index;
}

/** found[id] = 1 for every keyword id of the index that occurs in `lower`. */
function scanKeywords(index: KeywordIndex, lower: string): Uint8Array {
  const { keywords, bigram, first, tri, buckets } = index;
  const found = new Uint8Array(keywords.length);
  for (const id of index.short) if (lower.includes(keywords[id] as string)) found[id] = 1;
  const n = lower.length - 1;
  let c1 = n >= 0 ? lower.charCodeAt(0) : 0;
  for (let i = 0; i < n; i++) {
    const c0 = c1;
    c1 = lower.charCodeAt(i + 1);
    if (c0 >= 128 || first[c0] === 0 || c1 >= 128) continue;
    const key = c0 * 128 + c1;
    const b = bigram[key] ?? 0;
    if (b === 0 || tri[trigram(key, lower.charCodeAt(i + 2))] === 0) continue;
    for (const id of buckets[b - 1] as number[]) {
      if (found[id] === 0 && lower.startsWith(keywords[id] as string, i)) found[id] = 1;
    }
  }
  return found;
}

/** The set of keywords (of any rule in `rules`) that occur in `lower`. */
export function presentKeywords(rules: readonly SecretRule[], lower: string): Set<string> {
  const index = indexFor(rules);
  const found = scanKeywords(index, lower);
  const out = new Set<string>();
  for (let id = 0; id < found.length; id++) if (found[id] === 1) out.add(index.keywords[id] as string);
  return out;
}

/** Rules whose keywords occur (rules without keywords always run). */
export function activeRules(rules: readonly SecretRule[], lower: string): SecretRule[] {
  const index = indexFor(rules);
  const found = scanKeywords(index, lower);
  const out: SecretRule[] = [];
  for (let r = 0; r < rules.length; r++) {
    const own = index.ruleKeywords[r] as readonly number[];
    let active = own.length === 0;
    for (let k = 0; !active && k < own.length; k++) active = found[own[k] as number] === 1;
    if (active) out.push(rules[r] as SecretRule);
  }
  return out;
}
