/** Helpers shared by the PII recognizers: detections, context words, safe regex scanning. */
import type { Detection } from '../types.js';

/** A built-in pattern, exported so tests can prove it safe from catastrophic backtracking. */
export interface PiiPattern {
  readonly name: string;
  readonly regex: RegExp;
}

/** How far before (and after) a match context words are looked for, in UTF-16 units. */
export const CONTEXT_BEFORE = 48;
export const CONTEXT_AFTER = 24;
/** Added to a base score when a context word is near (Presidio's default boost). */
export const CONTEXT_BOOST = 0.35;

export function detection(
  type: string,
  start: number,
  end: number,
  score: number,
  recognizer: string,
): Detection {
  return { type, start, end, score: Math.min(1, Math.max(0, score)), recognizer };
}

function isWordChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 95 ||
    code > 127
  );
}

/** True when the UTF-16 unit at `i` is a letter, digit, `_` or non-ASCII (outside the text → false). */
export function wordCharAt(text: string, i: number): boolean {
  return i >= 0 && i < text.length && isWordChar(text.charCodeAt(i));
}

/**
 * Calls `visit(start, end)` for each maximal run of characters `inRun` accepts that holds a match
 * of `anchor` (a global regex of one character that `inRun` accepts, such as /\./g), left to
 * right. The anchors are found natively, so text without them is skipped unread; each character
 * is read at most twice, so it is linear. `visit` returns where to resume (≥ the run's end).
 */
export function forEachAnchoredRun(
  text: string,
  anchor: RegExp,
  inRun: (code: number) => boolean,
  visit: (start: number, end: number) => number,
): void {
  const n = text.length;
  let done = 0;
  try {
    for (;;) {
      anchor.lastIndex = done;
      const m = anchor.exec(text);
      if (m === null) return;
      let start = m.index;
      while (start > done && inRun(text.charCodeAt(start - 1))) start--;
      let end = m.index + 1;
      while (end < n && inRun(text.charCodeAt(end))) end++;
      done = Math.max(end, visit(start, end));
    }
  } finally {
    anchor.lastIndex = 0;
  }
}

/**
 * True when one of `words` (lower-case, single words) appears within the window around
 * [start, end). Linear in the window, independent of the text length.
 */
export function hasContext(text: string, start: number, end: number, words: ReadonlySet<string>): boolean {
  if (words.size === 0) return false;
  const before = text.slice(Math.max(0, start - CONTEXT_BEFORE), start).toLowerCase();
  const after = text.slice(end, end + CONTEXT_AFTER).toLowerCase();
  return hasWordOf(before, words) || hasWordOf(after, words);
}

/** A word of lower-cased text: ASCII letters and digits, and any non-ASCII unit. */
const LOWER_WORD = /[a-z0-9\u0080-\uffff]+/g;
export const CONTEXT_WORD_PATTERN: PiiPattern = { name: 'context_word', regex: LOWER_WORD };

function hasWordOf(lower: string, words: ReadonlySet<string>): boolean {
  LOWER_WORD.lastIndex = 0;
  let found = false;
  for (let m = LOWER_WORD.exec(lower); m !== null && !found; m = LOWER_WORD.exec(lower))
    found = words.has(m[0]);
  LOWER_WORD.lastIndex = 0;
  return found;
}

/** Scores `base`, raised by the context boost when a context word is near. */
export function contextScore(
  text: string,
  start: number,
  end: number,
  base: number,
  words: ReadonlySet<string>,
): number {
  return hasContext(text, start, end, words) ? Math.min(1, base + CONTEXT_BOOST) : base;
}

/** One private global copy per pattern, so callers' `lastIndex` is never touched. */
const globalCopies = new WeakMap<RegExp, RegExp>();

/** Runs a global (`g`) regex over the text with an exec loop. */
export function forEachMatch(regex: RegExp, text: string, fn: (match: RegExpExecArray) => void): void {
  let re = globalCopies.get(regex);
  // a copy still in use (fn scanning with the same pattern) is left alone: take a fresh one
  if (re === undefined || re.lastIndex !== 0) {
    re = new RegExp(regex.source, regex.flags.includes('g') ? regex.flags : regex.flags + 'g');
    if (!globalCopies.has(regex)) globalCopies.set(regex, re);
  }
  try {
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) re.lastIndex++;
      else fn(m);
    }
  } finally {
    re.lastIndex = 0;
  }
}

/** Only the digits of a string. */
export function digitsOf(s: string): string {
  let out = '';
  for (const ch of s) if (ch >= '0' && ch <= '9') out += ch;
  return out;
}

/** Luhn (mod 10) check over a digit string. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

export function words(...list: string[]): ReadonlySet<string> {
  return new Set(list);
}
