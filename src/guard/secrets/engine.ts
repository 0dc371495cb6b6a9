/**
 * Runs the rule tables over a text. Every step is linear in the text: keyword pre-filters use
 * `indexOf`, patterns are bounded (checked by `recheck` in the unit tests), and context windows
 * are scanned at most once per active rule.
 */
import { activeRules } from './prefilter.js';
import type { ContextRule, PatternRule, SecretRule } from './types.js';
import {
  asciiLower,
  charTable,
  inTable,
  isCloseDelimiter,
  isOpenDelimiter,
  isPlaceholder,
  shannonEntropy,
} from './text.js';

/** A secret value found by a rule (offsets are UTF-16 indices of the value). */
export interface SecretHit {
  readonly rule: string;
  readonly start: number;
  readonly end: number;
  readonly score: number;
}

const DEFAULT_WINDOW = 60;

/** Common value checks: placeholder and entropy thresholds. */
export function acceptValue(rule: SecretRule, value: string): boolean {
  if (!rule.allowPlaceholder && isPlaceholder(value)) return false;
  if (rule.minEntropy !== undefined && shannonEntropy(value) < rule.minEntropy) return false;
  return rule.validate === undefined || rule.validate(value);
}

function runPattern(rule: PatternRule, text: string, out: SecretHit[]): void {
  if (rule.gate !== undefined && !rule.gate.test(text)) return;
  const re = rule.pattern;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    const group = rule.group ?? 0;
    const value = m[group];
    const span = m.indices?.[group];
    if (value === undefined || span === undefined) continue;
    const [start, end] = span;
    if (rule.delimited === true) {
      if (start > 0 && !isOpenDelimiter(text.charCodeAt(start - 1))) continue;
      if (!isCloseDelimiter(text, end)) continue;
    }
    if (!acceptValue(rule, value)) continue;
    out.push({ rule: rule.id, start, end, score: rule.score ?? 0.9 });
  }
}

function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/** A keyword counts at a word start or a camelCase boundary (`cameraKit` does not hold `meraki`). */
function keywordBoundary(text: string, at: number): boolean {
  if (at === 0) return true;
  const prev = text.charCodeAt(at - 1);
  if (!isLetter(prev)) return true;
  const cur = text.charCodeAt(at);
  return prev >= 97 && prev <= 122 && cur >= 65 && cur <= 90;
}

function keywordHits(text: string, lower: string, keywords: readonly string[]): number[] {
  const hits: number[] = [];
  for (const k of keywords) {
    for (let i = lower.indexOf(k); i !== -1; i = lower.indexOf(k, i + 1)) {
      if (keywordBoundary(text, i)) hits.push(i + k.length);
    }
  }
  return hits.sort((a, b) => a - b);
}

const tableCache = new WeakMap<ContextRule, Uint8Array>();

function tableFor(rule: ContextRule): Uint8Array {
  let t = tableCache.get(rule);
  if (t === undefined) {
    t = charTable(rule.charset, rule.caseInsensitive === true);
    tableCache.set(rule, t);
  }
  return t;
}

function runContext(rule: ContextRule, text: string, lower: string, out: SecretHit[]): void {
  const table = tableFor(rule);
  const window = rule.window ?? DEFAULT_WINDOW;
  let scanned = 0;
  for (const hit of keywordHits(text, lower, rule.keywords)) {
    const windowEnd = Math.min(text.length, hit + window);
    let i = Math.max(hit, scanned);
    // INVARIANT: a value starts only right after a delimiter, so each window holds at most
    // `window` candidate starts, each read for at most maxLength + 1 characters.
    for (; i < windowEnd; i++) {
      if (!inTable(table, text.charCodeAt(i))) continue;
      if (i > 0 && !isOpenDelimiter(text.charCodeAt(i - 1))) continue;
      let j = i;
      while (j < text.length && j - i <= rule.maxLength && inTable(table, text.charCodeAt(j))) j++;
      const len = j - i;
      if (len < rule.minLength || len > rule.maxLength || !isCloseDelimiter(text, j)) continue;
      const value = text.slice(i, j);
      if ((rule.shape === undefined || rule.shape.test(value)) && acceptValue(rule, value)) {
        out.push({ rule: rule.id, start: i, end: j, score: rule.score ?? 0.8 });
      }
    }
    scanned = Math.max(scanned, windowEnd);
  }
}

/** Runs every rule whose keywords occur in the text. */
export function runRules(rules: readonly SecretRule[], text: string): SecretHit[] {
  const lower = asciiLower(text);
  const out: SecretHit[] = [];
  for (const rule of activeRules(rules, lower)) {
    if (rule.kind === 'pattern') runPattern(rule, text, out);
    else if (rule.kind === 'context') runContext(rule, text, lower, out);
    else out.push(...rule.find(text, lower));
  }
  return out;
}
