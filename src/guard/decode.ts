/**
 * Decoding of payloads hidden in a prompt (base64, hex, `\\xNN` escapes, rot13), so that an
 * encoded instruction is scored like a plain one. Linear time, bounded output.
 */
import { isAscii } from './ascii.js';

/** Bounds on {@link decodedPayloads}: at most this many payloads and decoded characters. */
export const DECODE_LIMITS = { maxPayloads: 16, maxDecodedChars: 65_536, rot13ScanChars: 65_536 } as const;

const BASE64_RUN = /[A-Za-z0-9+/_-]{16,}={0,2}/g;
const HEX_RUN = /(?:[0-9a-fA-F]{2}[ :,]?){8,}/g;
const ESCAPED_HEX_RUN = /(?:\\x[0-9a-fA-F]{2}){8,}/g;
const LETTERS = /[a-z]+/g;
const HEX_ONLY = /^[0-9a-fA-F]+$/;
const HEX_SEPARATORS = /[ :,]/g;
const HEX_ESCAPE = /\\x/g;
const COMMON_WORDS: ReadonlySet<string> = new Set(
  (
    'the and you your are is to of in for that this with what how now all any ignore previous instructions ' +
    'prompt system say print tell me please do not never from as be it can will must'
  ).split(' '),
);

/** True when at least 85% of the characters are printable ASCII or common whitespace. */
function mostlyPrintable(text: string): boolean {
  if (text.length < 6) return false;
  let printable = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0x20 && c < 0x7f) || c === 0x0a || c === 0x0d || c === 0x09) printable++;
  }
  return printable >= 0.85 * text.length;
}

function commonWordCount(text: string): number {
  let n = 0;
  for (const m of text.toLowerCase().matchAll(LETTERS)) if (COMMON_WORDS.has(m[0])) n++;
  return n;
}

// Common words keyed by an FNV-1a hash of their letters, for the allocation-free ASCII count.
const wordHash = (h: number, c: number): number => Math.imul(h ^ c, 0x01000193);
const COMMON_BY_HASH: ReadonlyMap<number, string> = new Map(
  [...COMMON_WORDS].map((w) => [
    [...w].reduce((h, ch) => wordHash(h, ch.charCodeAt(0)), 0x811c9dc5) >>> 0,
    w,
  ]),
);
const MAX_COMMON_WORD = Math.max(...[...COMMON_WORDS].map((w) => w.length));
/** A 4,096-slot filter on the low hash bits: most words miss it and skip the map lookup. */
const COMMON_FILTER = new Uint8Array(4096);
for (const h of COMMON_BY_HASH.keys()) COMMON_FILTER[h & 4095] = 1;

/**
 * Counts of common words in an ASCII text and in its rot13 (letters case-folded), as
 * `commonWordCount(text)` and `commonWordCount(rot13(text))` would give, without building
 * either string. `out[0]` is the plain count, `out[1]` the rotated one.
 */
function asciiCommonWordCounts(text: string, out: [number, number]): void {
  out[0] = 0;
  out[1] = 0;
  const n = text.length;
  for (let i = 0; i < n;) {
    let c = text.charCodeAt(i) | 0x20;
    if (c < 97 || c > 122) {
      i++;
      continue;
    }
    const start = i;
    let h = 0x811c9dc5;
    let r = 0x811c9dc5;
    do {
      h = wordHash(h, c);
      r = wordHash(r, ((c - 84) % 26) + 97);
      c = ++i < n ? text.charCodeAt(i) | 0x20 : 0;
    } while (c >= 97 && c <= 122);
    if (i - start > MAX_COMMON_WORD) continue;
    if (COMMON_FILTER[h & 4095] === 1 && sameLetters(text, start, i, COMMON_BY_HASH.get(h >>> 0), false)) {
      out[0]++;
    }
    if (COMMON_FILTER[r & 4095] === 1 && sameLetters(text, start, i, COMMON_BY_HASH.get(r >>> 0), true)) {
      out[1]++;
    }
  }
}

/**
 * The rot13 forms of the common words as whole ASCII letter runs, case-insensitive: on ASCII text
 * each match is a word {@link asciiCommonWordCounts} counts as rotated, found natively.
 */
const ROT13_COMMON = new RegExp(
  `(?<![A-Za-z])(?:${[...COMMON_WORDS]
    .map((w) => w.replace(/[a-z]/g, (ch) => String.fromCharCode(((ch.charCodeAt(0) - 84) % 26) + 97)))
    .sort((a, b) => b.length - a.length)
    .join('|')})(?![A-Za-z])`,
  'gi',
);

/** Whether an ASCII text holds at least `n` words whose rot13 is a common word. */
function hasRot13CommonWords(text: string, n: number): boolean {
  ROT13_COMMON.lastIndex = 0;
  let found = 0;
  while (found < n && ROT13_COMMON.exec(text) !== null) found++;
  ROT13_COMMON.lastIndex = 0;
  return found >= n;
}

/** Whether text[start, end) (case-folded, rot13 when `rotated`) spells `word`. */
function sameLetters(
  text: string,
  start: number,
  end: number,
  word: string | undefined,
  rotated: boolean,
): boolean {
  if (word === undefined || word.length !== end - start) return false;
  for (let k = 0; k < word.length; k++) {
    const c = text.charCodeAt(start + k) | 0x20;
    if ((rotated ? ((c - 84) % 26) + 97 : c) !== word.charCodeAt(k)) return false;
  }
  return true;
}

function rot13(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) out += String.fromCharCode(((c - 52) % 26) + 65);
    else if (c >= 97 && c <= 122) out += String.fromCharCode(((c - 84) % 26) + 97);
    else out += text[i];
  }
  return out;
}

/** Char classes by code: 1 base64 alphabet `[A-Za-z0-9+/_-]`, 2 hex-run separator `[ :,]`, 4 hex digit. */
const CHAR_CLASS = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-') {
  CHAR_CLASS[ch.charCodeAt(0)] = 1;
}
for (const ch of ' :,') CHAR_CLASS[ch.charCodeAt(0)] = 2;
for (const ch of '0123456789abcdefABCDEF') CHAR_CLASS[ch.charCodeAt(0)] = 5;
const BASE64_CHAR = 1;
const HEX_DIGIT = 4;
const HEX_RUN_CHAR = 6;

const MAY_BASE64 = 1;
const MAY_HEX = 2;
const MAY_ESCAPED_HEX = 4;

/**
 * One pass over the char codes that tells which payload passes can find anything: a base64
 * run of ≥ 16 characters, a run of `[0-9a-fA-F :,]` with ≥ 16 hex digits, eight `\x`.
 * Ordinary prose has none of them, so those passes (and their regexes) are skipped.
 */
function payloadCandidates(text: string): number {
  let flags = 0;
  let base64Run = 0;
  let hexDigits = 0;
  let escapes = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const cls = c < 128 ? (CHAR_CLASS[c] as number) : 0;
    if ((cls & BASE64_CHAR) !== 0) {
      if (++base64Run >= 16) flags |= MAY_BASE64;
    } else base64Run = 0;
    if ((cls & HEX_RUN_CHAR) !== 0) {
      if ((cls & HEX_DIGIT) !== 0 && ++hexDigits >= 16) flags |= MAY_HEX;
    } else hexDigits = 0;
    if (c === 92 && i + 1 < n && text.charCodeAt(i + 1) === 120 && ++escapes >= 8) flags |= MAY_ESCAPED_HEX;
  }
  return flags;
}

/**
 * The base64 runs `BASE64_RUN` matches (a maximal run of ≥ 16 alphabet characters, then up to
 * two `=`), found by one scan of char codes.
 */
function base64Runs(text: string, visit: (run: string) => boolean): boolean {
  const n = text.length;
  for (let i = 0; i < n;) {
    const c = text.charCodeAt(i);
    if (c >= 128 || ((CHAR_CLASS[c] as number) & BASE64_CHAR) === 0) {
      i++;
      continue;
    }
    const start = i;
    while (++i < n) {
      const d = text.charCodeAt(i);
      if (d >= 128 || ((CHAR_CLASS[d] as number) & BASE64_CHAR) === 0) break;
    }
    if (i - start < 16) continue;
    let end = i;
    while (end < n && end - i < 2 && text.charCodeAt(end) === 61) end++;
    if (!visit(text.slice(start, end))) return false;
    i = end;
  }
  return true;
}

/**
 * The hex runs `HEX_RUN` matches. A match is made of `[0-9a-fA-F :,]` and holds ≥ 16 hex
 * digits, so it lies inside a maximal run of those characters with ≥ 16 hex digits; the regex
 * runs only on such runs (most text has none).
 */
function hexRuns(text: string, visit: (run: string) => boolean): boolean {
  const n = text.length;
  for (let i = 0; i < n;) {
    const c = text.charCodeAt(i);
    if (c >= 128 || ((CHAR_CLASS[c] as number) & HEX_RUN_CHAR) === 0) {
      i++;
      continue;
    }
    const start = i;
    let digits = 0;
    for (; i < n; i++) {
      const d = text.charCodeAt(i);
      const cls = d < 128 ? (CHAR_CLASS[d] as number) : 0;
      if ((cls & HEX_RUN_CHAR) === 0) break;
      if ((cls & HEX_DIGIT) !== 0) digits++;
    }
    if (digits < 16) continue;
    for (const m of text.slice(start, i).matchAll(HEX_RUN)) if (!visit(m[0])) return false;
  }
  return true;
}

/**
 * Finds text hidden in the input as base64 (runs of ≥ 16 characters that decode to mostly
 * printable text), hex (≥ 8 bytes, optionally separated by spaces, colons or commas, or as
 * `\xNN` escapes) and rot13 (only when the rotated text reads as English and the original does
 * not). Returns the decoded strings, at most {@link DECODE_LIMITS}.maxPayloads of them and
 * {@link DECODE_LIMITS}.maxDecodedChars characters in total; linear in the input.
 */
export function decodedPayloads(text: string): string[] {
  const out: string[] = [];
  let budget: number = DECODE_LIMITS.maxDecodedChars;
  const push = (decoded: string): boolean => {
    if (out.length >= DECODE_LIMITS.maxPayloads || budget <= 0) return false;
    if (mostlyPrintable(decoded)) {
      const kept = decoded.slice(0, budget);
      out.push(kept);
      budget -= kept.length;
    }
    return true;
  };
  const decode = (run: string, encoding: 'base64' | 'hex'): string => {
    // A run longer than the budget cannot all be kept; decode only what could be.
    const limit = encoding === 'base64' ? Math.ceil((budget * 4) / 3 / 4) * 4 + 4 : budget * 2 + 2;
    return Buffer.from(run.slice(0, Math.max(0, limit)), encoding).toString('latin1');
  };
  const candidates = payloadCandidates(text);
  if ((candidates & MAY_BASE64) !== 0) {
    if (!base64Runs(text, (run) => HEX_ONLY.test(run) || push(decode(run, 'base64')))) return out;
  }
  if ((candidates & MAY_HEX) !== 0) {
    if (!hexRuns(text, (run) => push(decode(run.replace(HEX_SEPARATORS, ''), 'hex')))) return out;
  }
  if ((candidates & MAY_ESCAPED_HEX) !== 0) {
    for (const m of text.matchAll(ESCAPED_HEX_RUN)) {
      if (!push(decode(m[0].replace(HEX_ESCAPE, ''), 'hex'))) return out;
    }
  }
  const head = text.slice(0, DECODE_LIMITS.rot13ScanChars);
  let plainWords: number;
  let rotatedWords: number;
  if (isAscii(head)) {
    // Fewer than three words whose rot13 is a common word: no rot13 payload, nothing to count.
    if (!hasRot13CommonWords(head, 3)) return out;
    const counts: [number, number] = [0, 0];
    asciiCommonWordCounts(head, counts);
    [plainWords, rotatedWords] = counts;
  } else {
    plainWords = commonWordCount(head);
    rotatedWords = commonWordCount(rot13(head));
  }
  if (rotatedWords >= 3 && rotatedWords > 2 * plainWords) push(rot13(head));
  return out;
}

/** The RegExps of this module (for the ReDoS check in the tests). */
export function decodePatterns(): RegExp[] {
  return [BASE64_RUN, HEX_RUN, ESCAPED_HEX_RUN, LETTERS, HEX_ONLY, HEX_SEPARATORS, HEX_ESCAPE, ROT13_COMMON];
}
