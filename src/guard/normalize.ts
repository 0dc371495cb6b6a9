/**
 * Text normalisation for the injection detector: undo the cheap tricks attackers use to hide
 * instructions from pattern matchers (compatibility forms, invisible characters, look-alike
 * letters, encoded payloads). Every function here is linear in its input and bounded.
 */

// Zero-width, joiners, bidi embeddings/overrides/isolates, word joiner and invisible operators,
// BOM, soft hyphen, Mongolian vowel separator, combining grapheme joiner, variation selectors
// and the Unicode tag block (used to smuggle ASCII invisibly).
/* eslint-disable no-misleading-character-class -- invisible code points are matched one at a time */
const INVISIBLE =
  /[\u00AD\u034F\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFE00-\uFE0F\uFEFF]|\uDB40[\uDC00-\uDC7F]/g;
/* eslint-enable no-misleading-character-class */
const COMBINING = /[\u0300-\u036F]/g;
// Runs of two or more whitespace characters, or any single one that is not a plain space.
const WHITESPACE = /\s{2,}|[^\S ]/g;

/** Cyrillic and Greek letters that render like Latin ones, and a few Latin oddities. */
const HOMOGLYPH_PAIRS: readonly (readonly [string, string])[] = [
  ['аАɑαΑ', 'a'],
  ['вВΒβ', 'b'],
  ['сСϲϹ', 'c'],
  ['ԁ', 'd'],
  ['еЕёЁЕΕεє', 'e'],
  ['ɡ', 'g'],
  ['һНΗ', 'h'],
  ['іІїЇıΙιɩ', 'i'],
  ['јЈϳ', 'j'],
  ['кКΚκ', 'k'],
  ['ӏӀ', 'l'],
  ['мМΜ', 'm'],
  ['ΝпП', 'n'],
  ['оОΟοσ', 'o'],
  ['рРΡρ', 'p'],
  ['ԛ', 'q'],
  ['ѕЅ', 's'],
  ['тТΤτ', 't'],
  ['υ', 'u'],
  ['νѵ', 'v'],
  ['ԝѡ', 'w'],
  ['хХΧχ', 'x'],
  ['уУүҮΥγ', 'y'],
  ['Ζ', 'z'],
];

/** Typographic quotes, folded to ASCII but not counted as look-alike letters. */
const QUOTES = /[‘’‚‛ʼ′´]|([“”„‟″])/g;

const HOMOGLYPHS: ReadonlyMap<number, string> = new Map(
  HOMOGLYPH_PAIRS.flatMap(([from, to]) => [...from].map((ch) => [ch.codePointAt(0) ?? 0, to] as const)),
);

/** The lowest homoglyph code point, to skip the map lookup for most ASCII. */
const MIN_HOMOGLYPH = Math.min(...HOMOGLYPHS.keys());

/** Counts of what normalisation removed or replaced; used as obfuscation signals. */
export interface NormalizationStats {
  readonly invisible: number;
  readonly homoglyphs: number;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Removes invisible and bidi control characters. */
export function stripInvisible(text: string): string {
  return text.replace(INVISIBLE, '');
}

/** Replaces look-alike Cyrillic/Greek letters with ASCII. */
export function foldHomoglyphs(text: string): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < MIN_HOMOGLYPH) continue;
    const to = HOMOGLYPHS.get(code);
    if (to === undefined) continue;
    out += text.slice(last, i) + to;
    last = i + 1;
  }
  return last === 0 ? text : out + text.slice(last);
}

/**
 * The detector's view of a text: NFKC (folds fullwidth and mathematical letters), invisible and
 * bidi controls removed, diacritics dropped, homoglyphs folded to ASCII, lower-cased, runs of
 * whitespace collapsed to one space and trimmed.
 */
export function normalizeForDetection(text: string): string {
  return normalizeWithStats(text).text;
}

/** {@link normalizeForDetection} plus how much it had to undo. */
export function normalizeWithStats(text: string): { text: string; stats: NormalizationStats } {
  const visible = stripInvisible(text);
  const invisible = text.length - visible.length;
  // Unicode normalisation is the identity on ASCII; skipping it keeps large ASCII inputs cheap.
  const ascii = isAscii(visible);
  const decomposed = ascii ? visible : visible.normalize('NFKC').normalize('NFD').replace(COMBINING, '');
  const folded = foldHomoglyphs(decomposed);
  let homoglyphs = 0;
  if (folded !== decomposed) {
    for (let i = 0; i < folded.length; i++) {
      if (folded.charCodeAt(i) !== decomposed.charCodeAt(i)) homoglyphs++;
    }
  }
  const quoted = ascii ? folded : folded.replace(QUOTES, (_, d: string | undefined) => (d ? '"' : "'"));
  const out = (ascii ? quoted : quoted.normalize('NFC')).toLowerCase().replace(WHITESPACE, ' ').trim();
  return { text: out, stats: { invisible, homoglyphs } };
}

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

/** Every RegExp this module uses (for the ReDoS check in the tests). */
export function normalizePatterns(): RegExp[] {
  return [
    INVISIBLE,
    COMBINING,
    WHITESPACE,
    QUOTES,
    BASE64_RUN,
    HEX_RUN,
    ESCAPED_HEX_RUN,
    LETTERS,
    HEX_ONLY,
    HEX_SEPARATORS,
    HEX_ESCAPE,
  ];
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
  for (const m of text.matchAll(BASE64_RUN)) {
    if (HEX_ONLY.test(m[0])) continue; // left to the hex pass
    if (!push(decode(m[0], 'base64'))) return out;
  }
  for (const m of text.matchAll(HEX_RUN)) {
    if (!push(decode(m[0].replace(HEX_SEPARATORS, ''), 'hex'))) return out;
  }
  for (const m of text.matchAll(ESCAPED_HEX_RUN)) {
    if (!push(decode(m[0].replace(HEX_ESCAPE, ''), 'hex'))) return out;
  }
  const head = text.slice(0, DECODE_LIMITS.rot13ScanChars);
  const rotated = rot13(head);
  const rotatedWords = commonWordCount(rotated);
  if (rotatedWords >= 3 && rotatedWords > 2 * commonWordCount(head)) push(rotated);
  return out;
}
