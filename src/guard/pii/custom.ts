/**
 * Custom recognizers from configuration: RE2 patterns (linear time by construction) and
 * dictionaries (Aho–Corasick on word boundaries). Built once at start; a bad entry throws.
 */
import { RE2 } from 're2-wasm';
import type { Detection, Recognizer } from '../types.js';
import { AhoCorasick } from './aho-corasick.js';
import { contextScore, detection, words } from './shared.js';
import type { PiiPattern } from './shared.js';

export interface CustomPatternConfig {
  readonly name: string;
  /** Entity type emitted, e.g. `EMPLOYEE_ID`. */
  readonly type: string;
  /** RE2 syntax (no lookaround, no backreferences). */
  readonly regex: string;
  /** Score without context; default 0.6. */
  readonly score?: number;
  /** Words that raise the score when near a match. */
  readonly context?: readonly string[];
}

export interface CustomDictionaryConfig {
  readonly name: string;
  readonly type: string;
  readonly terms: readonly string[];
  /** Default false: terms match in any case. */
  readonly caseSensitive?: boolean;
}

export interface CustomRecognizerConfig {
  readonly patterns?: readonly CustomPatternConfig[];
  readonly dictionaries?: readonly CustomDictionaryConfig[];
}

/** Thrown at start for a pattern or dictionary that cannot be built. */
export class CustomRecognizerError extends Error {
  override readonly name = 'CustomRecognizerError';
  /** Stable code for config validation to report. */
  readonly code = 'ERR_PII_CUSTOM_RECOGNIZER';
  constructor(
    message: string,
    readonly entry: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Matches longer than this are cut at a window edge; windows bound RE2's per-call input copy. */
export const CUSTOM_MAX_MATCH = 1024;
const WINDOW = 4096;
const LEAD = 64;

function compile(p: CustomPatternConfig): RE2 {
  try {
    return new RE2(p.regex, 'gu');
  } catch (cause) {
    throw new CustomRecognizerError(`custom pattern '${p.name}': invalid RE2 regex`, p.name, { cause });
  }
}

function isLowSurrogate(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Code points in text[from, to). */
function codePoints(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (!isLowSurrogate(text, i)) n++;
  return n;
}

/** UTF-16 offset of the `cp`-th code point of `s`. */
function utf16Offset(s: string, cp: number): number {
  let i = 0;
  for (let seen = 0; seen < cp && i < s.length; seen++) i += isLowSurrogate(s, i + 1) ? 2 : 1;
  return i;
}

/**
 * re2-wasm copies its whole input on every exec, so a plain exec loop is quadratic in the
 * number of matches; scanning bounded windows (with a little lead-in so `\b` and `^` see the
 * character before) keeps each call's cost bounded and the whole scan linear. re2-wasm counts
 * `lastIndex` and `index` in code points: they are converted to UTF-16 offsets here.
 */
function re2Spans(re: RE2, text: string): [number, number][] {
  const spans: [number, number][] = [];
  let pos = 0;
  while (pos < text.length) {
    let from = Math.max(0, pos - LEAD);
    if (isLowSurrogate(text, from)) from--;
    let winEnd = Math.min(text.length, pos + WINDOW);
    if (isLowSurrogate(text, winEnd)) winEnd++;
    const window = text.slice(from, winEnd);
    re.lastIndex = codePoints(text, from, pos);
    const m = re.exec(window);
    if (!m) {
      if (winEnd === text.length) break;
      pos = winEnd - CUSTOM_MAX_MATCH;
      if (isLowSurrogate(text, pos)) pos++;
      continue;
    }
    const s = from + utf16Offset(window, m.index);
    const e = s + (m[0] ?? '').length;
    // a match reaching into the window's tail may continue past it: rescan from its start
    if (winEnd < text.length && e > winEnd - CUSTOM_MAX_MATCH && s > pos) {
      pos = s;
      continue;
    }
    if (e > s) spans.push([s, e]);
    pos = Math.max(e, s + 1);
    if (isLowSurrogate(text, pos)) pos++;
  }
  return spans;
}

function patternRecognizer(p: CustomPatternConfig): Recognizer {
  const re = compile(p);
  const score = p.score ?? 0.6;
  if (!(score >= 0 && score <= 1)) {
    throw new CustomRecognizerError(`custom pattern '${p.name}': score must be in 0..1`, p.name);
  }
  const context = words(...(p.context ?? []).map((w) => w.toLowerCase()));
  const name = `custom:${p.name}`;
  return {
    name,
    types: [p.type],
    detect(text: string): Detection[] {
      return re2Spans(re, text).map(([s, e]) =>
        detection(p.type, s, e, contextScore(text, s, e, score, context), name),
      );
    },
  };
}

/** Tests one code point for a word character (letters and digits of any script, `_`). */
export const WORD_CHAR_PATTERN: PiiPattern = { name: 'word_char', regex: /[\p{L}\p{N}_]/u };
const WORD = WORD_CHAR_PATTERN.regex;

function isWordAt(text: string, i: number): boolean {
  if (i < 0 || i >= text.length) return false;
  const code = text.charCodeAt(i);
  if (code < 128) return WORD.test(text[i] ?? '');
  // surrogate halves: look at the whole code point
  const cp = text.codePointAt(code >= 0xdc00 && code <= 0xdfff && i > 0 ? i - 1 : i) ?? 0;
  return WORD.test(String.fromCodePoint(cp));
}

function dictionaryRecognizer(d: CustomDictionaryConfig): Recognizer {
  const terms = d.terms.map((t) => t.trim()).filter((t) => t.length > 0);
  if (terms.length === 0) {
    throw new CustomRecognizerError(`custom dictionary '${d.name}': no terms`, d.name);
  }
  const automaton = new AhoCorasick(terms, d.caseSensitive !== true);
  const name = `custom:${d.name}`;
  return {
    name,
    types: [d.type],
    detect(text: string): Detection[] {
      const out: Detection[] = [];
      for (const m of automaton.search(text)) {
        const term = terms[m.term] ?? '';
        const startsWord = isWordAt(text, m.start);
        const endsWord = isWordAt(text, m.end - 1);
        // INVARIANT: a term that begins/ends with a word character must sit on a word boundary.
        if (startsWord && isWordAt(text, m.start - 1)) continue;
        if (endsWord && isWordAt(text, m.end)) continue;
        if (term.length === 0) continue;
        out.push(detection(d.type, m.start, m.end, 0.85, name));
      }
      return out;
    },
  };
}

/** Builds the configured custom recognizers; throws CustomRecognizerError naming a bad entry. */
export function createCustomRecognizers(config: CustomRecognizerConfig): Recognizer[] {
  const seen = new Set<string>();
  const out: Recognizer[] = [];
  const entries = [...(config.patterns ?? []), ...(config.dictionaries ?? [])];
  for (const entry of entries) {
    if (!entry.name || seen.has(entry.name)) {
      throw new CustomRecognizerError(
        `custom recognizer '${entry.name}': missing or duplicate name`,
        entry.name,
      );
    }
    if (!entry.type)
      throw new CustomRecognizerError(`custom recognizer '${entry.name}': missing type`, entry.name);
    seen.add(entry.name);
  }
  for (const p of config.patterns ?? []) out.push(patternRecognizer(p));
  for (const d of config.dictionaries ?? []) out.push(dictionaryRecognizer(d));
  return out;
}
