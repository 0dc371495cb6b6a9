/**
 * Feature extraction shared by training and inference: hashed character 3–5-grams and word
 * 1–2-grams of normalised text into 2^18 buckets (binary presence, scaled to unit L2 norm), plus
 * one feature per heuristic signal after the hashed block. Linear in the input.
 */
import { normalizeWithStats, decodedPayloads } from '../normalize.js';
import {
  hasAdversarialSuffix,
  patternSignals,
  PATTERN_SIGNALS,
  SIGNAL_NAMES,
  type SignalName,
} from './heuristics.js';

export const HASH_BITS = 18;
export const HASH_BUCKETS = 1 << HASH_BITS;
/** Total feature count: hashed buckets, then one slot per signal (in SIGNAL_NAMES order). */
export const FEATURE_COUNT = HASH_BUCKETS + SIGNAL_NAMES.length;
/** Long texts are scored in overlapping windows of this many normalised characters. */
export const WINDOW_CHARS = 4096;
/** Consecutive windows overlap by 512 characters, so a phrase cut by one boundary is whole in the next. */
export const WINDOW_STRIDE = 3584;

const MASK = HASH_BUCKETS - 1;
const CHAR_SEED = 0x811c9dc5;
const WORD_SEED = 0x01000193 ^ 0x5bd1e995;
const FNV_PRIME = 0x01000193;
const WORD = /[a-z0-9']+/g;

/** A sparse feature vector: unique indices and their values. */
export interface SparseVector {
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

/** A text prepared for scoring: one feature vector per window, and the signals that fired. */
export interface PreparedText {
  readonly windows: SparseVector[];
  readonly signals: SignalName[];
}

// Scratch space for de-duplicating buckets within one vector (single-threaded, reused).
const seen = new Uint32Array(HASH_BUCKETS);
let generation = 0;

function nextGeneration(): number {
  generation = (generation + 1) >>> 0;
  if (generation === 0) {
    seen.fill(0);
    generation = 1;
  }
  return generation;
}

function fnvWord(word: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/** Bucket indices of the hashed n-grams of one normalised window, de-duplicated. */
export function hashedBuckets(text: string): number[] {
  const gen = nextGeneration();
  const out: number[] = [];
  const add = (h: number): void => {
    const b = (h ^ (h >>> 15)) & MASK;
    if (seen[b] !== gen) {
      seen[b] = gen;
      out.push(b);
    }
  };
  const padded = ` ${text} `;
  for (let i = 0; i + 3 <= padded.length; i++) {
    let h = CHAR_SEED;
    for (let n = 1; n <= 5 && i + n <= padded.length; n++) {
      h = Math.imul(h ^ padded.charCodeAt(i + n - 1), FNV_PRIME);
      if (n >= 3) add(Math.imul(h ^ n, FNV_PRIME));
    }
  }
  let prev = 0;
  for (const m of text.matchAll(WORD)) {
    const w = fnvWord(m[0], WORD_SEED);
    add(w);
    if (prev !== 0) add(Math.imul(prev ^ Math.imul(w, 0x27d4eb2d), FNV_PRIME) ^ 0x9e3779b9);
    prev = w || 1;
  }
  return out;
}

/** The signals of one normalised window (pattern signals and the adversarial-suffix check). */
export function windowSignals(window: string): SignalName[] {
  const fired: SignalName[] = patternSignals(window);
  if (hasAdversarialSuffix(window)) fired.push('adversarial_suffix');
  return fired;
}

/** Builds one window's vector: unit-norm n-gram presence, then signal indicators. */
export function vectorOf(window: string, signals: readonly SignalName[]): SparseVector {
  const buckets = hashedBuckets(window);
  const scale = buckets.length > 0 ? 1 / Math.sqrt(buckets.length) : 0;
  const indices = new Int32Array(buckets.length + signals.length);
  const values = new Float32Array(indices.length);
  buckets.forEach((b, i) => {
    indices[i] = b;
    values[i] = scale;
  });
  signals.forEach((s, i) => {
    indices[buckets.length + i] = HASH_BUCKETS + SIGNAL_NAMES.indexOf(s);
    values[buckets.length + i] = 1;
  });
  return { indices, values };
}

/** Splits normalised text into overlapping windows (one window when it is short). */
export function windowsOf(normalized: string): string[] {
  if (normalized.length <= WINDOW_CHARS) return [normalized];
  const out: string[] = [];
  for (let start = 0; ; start += WINDOW_STRIDE) {
    out.push(normalized.slice(start, start + WINDOW_CHARS));
    if (start + WINDOW_CHARS >= normalized.length) break;
  }
  return out;
}

function nonAsciiLetters(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) n++;
  return n;
}

function isInstructionLike(payload: string): boolean {
  return patternSignals(payload).length > 0 || PATTERN_SIGNALS.role_hijack.some((p) => p.test(payload));
}

/**
 * Normalises a raw text and prepares its windows. Decoded payloads (base64, hex, rot13) are
 * normalised and added as extra windows, so an encoded instruction is scored like a plain one;
 * text-level signals (`encoded_payload`, `obfuscation`) are added to every window.
 */
export function prepare(raw: string): PreparedText {
  const { text, stats } = normalizeWithStats(raw);
  const global: SignalName[] = [];
  const payloads = decodedPayloads(raw).map((p) => normalizeWithStats(p).text);
  if (payloads.some(isInstructionLike)) global.push('encoded_payload');
  // Folded look-alikes count only when they hide inside Latin text, not in Cyrillic or Greek prose.
  if (stats.invisible >= 2 || (stats.homoglyphs >= 2 && nonAsciiLetters(text) < stats.homoglyphs)) {
    global.push('obfuscation');
  }
  const all = new Set<SignalName>(global);
  const windows = [...windowsOf(text), ...payloads].map((w) => {
    const local = windowSignals(w);
    for (const s of local) all.add(s);
    return vectorOf(w, [...new Set([...local, ...global])]);
  });
  return { windows, signals: SIGNAL_NAMES.filter((s) => all.has(s)) };
}
