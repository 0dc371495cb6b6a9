/**
 * Cuts phone-number candidates out of text by hand (a regex only finds where one may start): a
 * run of digit groups joined by at most two separators (space, '.', '-') or parenthesised area
 * codes, an optional leading '+' and an optional extension. Each position is visited a bounded
 * number of times.
 */

import type { PiiPattern } from './shared.js';

export interface PhoneCandidate {
  readonly start: number;
  readonly end: number;
  readonly digits: number;
}

const MAX_LENGTH = 40;
const MAX_DIGITS = 17;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isSep(c: number): boolean {
  return c === 32 || c === 46 || c === 45 || c === 0xa0;
}

function isWord(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
}

/** Reads an extension (" x123", " ext. 12", ",ext 1") at `i`; returns its end or -1. */
function readExtension(text: string, i: number): number {
  let j = i;
  if (text[j] === ' ' || text[j] === ',') j++;
  const lower = text.slice(j, j + 10).toLowerCase();
  let k: number;
  if (lower.startsWith('extension')) k = j + 9;
  else if (lower.startsWith('ext')) k = j + 3;
  else if (lower.startsWith('x')) k = j + 1;
  else return -1;
  if (text[k] === '.') k++;
  if (text[k] === ' ') k++;
  const digitsStart = k;
  while (k < text.length && k - digitsStart < 7 && isDigit(text.charCodeAt(k))) k++;
  if (k === digitsStart || (k < text.length && isWord(text.charCodeAt(k)))) return -1;
  return k;
}

/** Scans one candidate starting at `start`; returns its end (exclusive) and digit count. */
function scanOne(text: string, start: number): [number, number] {
  let i = start;
  let digits = 0;
  let lastDigitEnd = -1;
  if (text[i] === '+') {
    i++;
    if (text[i] === ' ') i++;
  }
  while (i < text.length && i - start < MAX_LENGTH) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) {
      digits++;
      i++;
      lastDigitEnd = i;
      // too many digits for one number: the caller skips the whole chain (-(i + 1))
      if (digits > MAX_DIGITS) return [-(i + 1), digits];
      continue;
    }
    // '(' opens an area code only at the start or right after a '+' country code: "487 (2014)" is not a number
    if (c === 40 && (digits === 0 || (text[start] === '+' && digits <= 3))) {
      // "(0)157" or "(415)": a parenthesised group of 1–5 digits
      let k = i + 1;
      while (k < text.length && k - i <= 5 && isDigit(text.charCodeAt(k))) k++;
      if (k === i + 1 || text[k] !== ')') break;
      digits += k - i - 1;
      i = k + 1;
      lastDigitEnd = i;
      if (text[i] === ' ' || text[i] === '-') i++;
      continue;
    }
    if (isSep(c) && lastDigitEnd === i) {
      let k = i + 1;
      // a second separator only as " - " style, never two spaces (columns of figures)
      if (isSep(text.charCodeAt(k)) && text.charCodeAt(k) !== c) k++;
      const next = text.charCodeAt(k);
      if (isDigit(next) || next === 40) {
        i = k;
        continue;
      }
    }
    break;
  }
  if (lastDigitEnd === -1) return [-1, digits];
  const ext = readExtension(text, lastDigitEnd);
  const end = ext === -1 ? lastDigitEnd : ext;
  if (end < text.length && isWord(text.charCodeAt(end))) return [-1, digits];
  return [end, digits];
}

/** Where a candidate may start; found natively, so prose between numbers is skipped unread. */
const START = /[0-9(+]/g;
export const PHONE_SCAN_PATTERNS: readonly PiiPattern[] = [{ name: 'phone_start', regex: START }];

/** All phone-shaped candidates with 7–17 digits, left to right, non-overlapping. */
export function phoneCandidates(text: string): PhoneCandidate[] {
  const out: PhoneCandidate[] = [];
  let i = 0;
  while (i < text.length) {
    START.lastIndex = i;
    const found = START.exec(text);
    if (found === null) break;
    i = found.index;
    const c = text.charCodeAt(i);
    const startable = c === 43 || c === 40 || isDigit(c);
    const prev = i > 0 ? text.charCodeAt(i - 1) : 32;
    if (!startable || isWord(prev) || prev === 43) {
      i++;
      continue;
    }
    const [end, digits] = scanOne(text, i);
    if (end < -1) {
      // a chain of digit groups longer than any number: no start inside it can do better
      i = -end;
      while (i < text.length && isDigit(text.charCodeAt(i))) i++;
      continue;
    }
    if (end === -1) {
      // skip the rest of this digit run so a long run costs one pass
      i++;
      while (i < text.length && isDigit(text.charCodeAt(i))) i++;
      continue;
    }
    if (digits >= 7) out.push({ start: i, end, digits });
    i = Math.max(end, i + 1);
  }
  START.lastIndex = 0;
  return out;
}
