/**
 * Text normalisation for the injection detector: undo the cheap tricks attackers use to hide
 * instructions from pattern matchers (compatibility forms, invisible characters, look-alike
 * letters, encoded payloads). Every function here is linear in its input and bounded.
 */
import { isAscii } from './ascii.js';
import { decodePatterns } from './decode.js';

export { decodedPayloads, DECODE_LIMITS } from './decode.js';

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

const NO_STATS: NormalizationStats = Object.freeze({ invisible: 0, homoglyphs: 0 });

/**
 * Whitespace an ASCII text would lose or change in folding: a space at either end, two spaces in
 * a row, or a tab, newline, vertical tab, form feed or carriage return.
 */
const UNCLEAN_ASCII_SPACE = /^ | $| {2}|[\t\n\v\f\r]/;

/** True when an ASCII text needs no whitespace folding beyond lower-casing. */
function asciiSpacesClean(text: string): boolean {
  return !UNCLEAN_ASCII_SPACE.test(text);
}

/** {@link normalizeForDetection} plus how much it had to undo. */
export function normalizeWithStats(text: string): { text: string; stats: NormalizationStats } {
  // Fast path: ASCII has no invisible characters, compatibility forms, diacritics, homoglyphs or
  // typographic quotes, so only lower-casing and whitespace folding apply.
  if (isAscii(text)) {
    const lower = text.toLowerCase();
    const out = asciiSpacesClean(lower) ? lower : lower.replace(WHITESPACE, ' ').trim();
    return { text: out, stats: NO_STATS };
  }
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

/** Every RegExp this module and decode.ts use (for the ReDoS check in the tests). */
export function normalizePatterns(): RegExp[] {
  return [INVISIBLE, COMBINING, WHITESPACE, QUOTES, UNCLEAN_ASCII_SPACE, ...decodePatterns()];
}
