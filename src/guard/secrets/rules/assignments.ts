/**
 * A linear scanner for `name <op> value` assignments: `k = v`, `k: v`, `"k": "v"`, `k := v`,
 * `k => v`, `k ?= v`, `("k", "v")`, `<add key="k" value="v"/>`. It reports where the value is.
 */

export interface Assignment {
  readonly key: string;
  readonly value: string;
  /** UTF-16 index of the value's first character. */
  readonly start: number;
  readonly quoted: boolean;
}

const MAX_KEY = 80;
const MAX_VALUE = 300;

function isKeyChar(c: number): boolean {
  return (
    (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 45 || c === 46
  );
}

function isQuote(c: number): boolean {
  return c === 34 || c === 39 || c === 96;
}

/** Unquoted value characters: no spaces, quotes, separators, or `=` (except trailing padding). */
function isBareValueChar(c: number): boolean {
  return (
    c > 32 && c !== 127 && !isQuote(c) && c !== 59 && c !== 44 && c !== 41 && c !== 61 && c !== 60 && c !== 38
  );
}

/** Reads the key that ends right before `end` (after optional spaces and a closing quote). */
function readKey(text: string, end: number): { key: string; quoted: boolean } | undefined {
  let i = end - 1;
  let spaces = 0;
  while (i >= 0 && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9) && spaces < 5) {
    i--;
    spaces++;
  }
  let quote = -1;
  if (i >= 0 && isQuote(text.charCodeAt(i))) {
    quote = text.charCodeAt(i);
    i--;
  } else if (i >= 1 && text.charCodeAt(i) === 34 && text.charCodeAt(i - 1) === 92) {
    i -= 2;
  }
  const keyEnd = i + 1;
  while (i >= 0 && keyEnd - i <= MAX_KEY && isKeyChar(text.charCodeAt(i))) i--;
  const key = text.slice(i + 1, keyEnd);
  if (key.length === 0 || keyEnd - i > MAX_KEY) return undefined;
  if (quote !== -1 && (i < 0 || text.charCodeAt(i) !== quote)) return undefined;
  return { key, quoted: quote !== -1 };
}

/** Parses the operator at `at`; returns its end or -1. Comparisons (`==`, `!=`, `<=`, `>=`) are skipped. */
function operatorEnd(text: string, at: number): number {
  const c = text.charCodeAt(at);
  const prev = at > 0 ? text.charCodeAt(at - 1) : 0;
  const next = text.charCodeAt(at + 1);
  if (c === 61) {
    if (prev === 61 || prev === 33 || prev === 60 || prev === 62 || prev === 58 || prev === 63) return -1;
    if (next === 61) return -1;
    return next === 62 ? at + 2 : at + 1;
  }
  if (c === 58) {
    if (prev === 58) return -1;
    let j = at;
    while (text.charCodeAt(j) === 58 && j - at < 3) j++;
    if (text.charCodeAt(j) === 61) return j + 1;
    if (next === 47 && text.charCodeAt(at + 2) === 47) return -1; // a URL scheme
    return at + 1;
  }
  if (c === 63 && next === 61) return at + 2;
  return -1;
}

/**
 * All assignments in `text`. INVARIANT: linear — the key look-back is capped, and the value
 * look-ahead stops at the first delimiter or after MAX_VALUE characters.
 */
/** The characters an assignment turns on (`=`, `:`, `?` of `?=`, `,` of a quoted pair), found natively. */
export const OPERATOR = /[=:?,]/g;

export function findAssignments(text: string): Assignment[] {
  const out: Assignment[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    OPERATOR.lastIndex = i;
    const found = OPERATOR.exec(text);
    if (found === null) break;
    i = found.index;
    const c = text.charCodeAt(i);
    let opEnd = c === 44 ? i + 1 : operatorEnd(text, i);
    if (opEnd === -1) {
      i++;
      continue;
    }
    const k = readKey(text, c === 63 || c === 44 ? i : i);
    if (k === undefined || (c === 44 && !k.quoted)) {
      i = opEnd;
      continue;
    }
    let j = opEnd;
    while (j < n && j - opEnd < 5 && (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9)) j++;
    if (j < n && text.charCodeAt(j) === 92 && text.charCodeAt(j + 1) === 34) j++;
    const q = text.charCodeAt(j);
    if (isQuote(q)) {
      const start = j + 1;
      let e = start;
      while (e < n && e - start <= MAX_VALUE && text.charCodeAt(e) !== q && text.charCodeAt(e) !== 10) e++;
      if (e < n && text.charCodeAt(e) === q && e - start <= MAX_VALUE) {
        let end = e;
        if (text.charCodeAt(end - 1) === 92) end--;
        out.push({ key: k.key, value: text.slice(start, end), start, quoted: true });
        opEnd = e + 1;
      }
    } else if (c !== 44) {
      const start = j;
      let e = start;
      while (e < n && e - start <= MAX_VALUE && isBareValueChar(text.charCodeAt(e))) e++;
      while (e < n && text.charCodeAt(e) === 61 && e - start <= MAX_VALUE + 2) e++;
      if (e > start && e - start <= MAX_VALUE) {
        out.push({ key: k.key, value: text.slice(start, e), start, quoted: false });
      }
      opEnd = Math.max(opEnd, e);
    }
    i = opEnd;
  }
  OPERATOR.lastIndex = 0;
  return out;
}
