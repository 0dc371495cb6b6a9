/**
 * Feature extraction shared by training and inference: hashed character 3–5-grams and word
 * 1–2-grams of normalised text into 2^18 buckets (binary presence, scaled to unit L2 norm), plus
 * one feature per heuristic signal after the hashed block. Linear in the input.
 */
import { normalizeWithStats, decodedPayloads } from '../normalize.js';
import { GATE_FILTER, gateOpen, markApostropheSegments, markGateWord, resetGateWords } from './gates.js';
import {
  CODE_PUNCT,
  combinedPatterns,
  hasAdversarialSuffix,
  patternSignalMask,
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

// Scratch space for de-duplicating buckets within one window (single-threaded, reused): one bit
// per bucket, 32 KB, cleared per window. Small enough to stay in the CPU cache beside the other
// detectors' data (a byte per bucket, 256 KB, was evicted and cost a cache miss per n-gram).
const seen = new Uint32Array(HASH_BUCKETS >>> 5);
/**
 * A weight table packed for the CPU cache: one bit per bucket whose weight is not zero (most are
 * zero), the number of such bits before each 32-bit word, and the non-zero weights in bucket
 * order. About 0.2 MB instead of the dense table's 1 MB, so lookups stay in the CPU cache beside
 * the other detectors' data (bench/guard: the whole inspect stage ran faster).
 */
interface PackedWeights {
  readonly bits: Uint32Array;
  readonly rank: Uint32Array;
  readonly values: Float32Array;
}
const packedTables = new WeakMap<Float32Array, PackedWeights>();

function packedOf(weights: Float32Array): PackedWeights {
  let packed = packedTables.get(weights);
  if (!packed) {
    const bits = new Uint32Array(HASH_BUCKETS >>> 5);
    const rank = new Uint32Array(HASH_BUCKETS >>> 5);
    const kept: number[] = [];
    for (let b = 0; b < HASH_BUCKETS; b++) {
      if ((b & 31) === 0) rank[b >>> 5] = kept.length;
      if (weights[b] !== 0) {
        bits[b >>> 5] = (bits[b >>> 5] as number) | (1 << (b & 31));
        kept.push(weights[b] as number);
      }
    }
    packed = { bits, rank, values: Float32Array.from(kept) };
    packedTables.set(weights, packed);
  }
  return packed;
}

/** The number of set bits of a 32-bit integer. */
function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
// The unique-bucket count of the last hashing pass.
let bucketCount = 0;
// Whether the last hashing pass found an adversarial suffix (as `hasAdversarialSuffix`).
let suffixFound = false;

/** True for the characters of a word (`[a-z0-9']`). */
function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 39;
}

/** The bucket of a hash. */
function bucketOf(h: number): number {
  return (h ^ (h >>> 15)) & MASK;
}

/** The state of the hashing pass under way (single-threaded, reused). */
const pass: {
  weights: PackedWeights | null;
  sink: number[] | null;
  count: number;
  sum: number;
} = { weights: null, sink: null, count: 0, sum: 0 };

/** Counts bucket `b` once per pass: adds its weight (when not zero) and hands it to the sink. */
function visit(b: number): void {
  const word = b >>> 5;
  const bit = 1 << (b & 31);
  if (((seen[word] as number) & bit) !== 0) return;
  seen[word] = (seen[word] as number) | bit;
  pass.count++;
  const weights = pass.weights;
  if (weights !== null) {
    const set = weights.bits[word] as number;
    if ((set & bit) !== 0)
      pass.sum += weights.values[(weights.rank[word] as number) + popcount(set & (bit - 1))] as number;
  }
  if (pass.sink !== null) pass.sink.push(b);
}

/**
 * Hashes every n-gram of one normalised window: character 3–5-grams of ` ${text} ` and word
 * 1–2-grams (words are runs of `[a-z0-9']`). Each unique bucket is pushed to `sink` (when given)
 * and its weight in `weights` (when given) added to the returned sum; the unique-bucket count is
 * left in `bucketCount`. Training and inference both hash through here. Allocates nothing
 * beyond `sink`.
 */
function hashWindow(text: string, weights: Float32Array | null, sink: number[] | null): number {
  seen.fill(0);
  pass.weights = weights === null ? null : packedOf(weights);
  pass.sink = sink;
  pass.count = 0;
  pass.sum = 0;
  // Character n-grams of the text padded with one space each side, without building it: a
  // sliding window of five char codes (-1 past the end).
  const n = text.length;
  const len = n + 2;
  let c0 = 32;
  let c1 = n >= 1 ? text.charCodeAt(0) : 32;
  let c2 = n >= 2 ? text.charCodeAt(1) : n === 1 ? 32 : -1;
  let c3 = n >= 3 ? text.charCodeAt(2) : n === 2 ? 32 : -1;
  let c4 = n >= 4 ? text.charCodeAt(3) : n === 3 ? 32 : -1;
  for (let i = 0; i + 3 <= len; i++) {
    let h = Math.imul(CHAR_SEED ^ c0, FNV_PRIME);
    h = Math.imul(h ^ c1, FNV_PRIME);
    h = Math.imul(h ^ c2, FNV_PRIME);
    let b = bucketOf(Math.imul(h ^ 3, FNV_PRIME));
    visit(b);
    if (c3 >= 0) {
      h = Math.imul(h ^ c3, FNV_PRIME);
      b = bucketOf(Math.imul(h ^ 4, FNV_PRIME));
      visit(b);
      if (c4 >= 0) {
        h = Math.imul(h ^ c4, FNV_PRIME);
        b = bucketOf(Math.imul(h ^ 5, FNV_PRIME));
        visit(b);
      }
    }
    c0 = c1;
    c1 = c2;
    c2 = c3;
    c3 = c4;
    // Padded position i + 5 is text position i + 4; the closing pad is at padded len - 1.
    c4 = i + 4 < n ? text.charCodeAt(i + 4) : i + 4 === n ? 32 : -1;
  }
  // Word unigrams and bigrams, scanning char codes. The same scan records the signal gates'
  // words (gates.ts) and counts the adversarial-suffix tokens (`hasAdversarialSuffix`: tokens
  // are separated by single spaces; code punctuation is never a word character).
  resetGateWords();
  let prev = 0;
  let tokens = 0;
  let weight = 0;
  let punct = 0;
  let inToken = false;
  for (let i = 0; i < n;) {
    let c = text.charCodeAt(i);
    if (!isWordChar(c)) {
      if (c === 32) {
        if (inToken) {
          tokens++;
          weight += punct < 3 ? punct : 3;
          inToken = false;
          punct = 0;
        }
      } else {
        inToken = true;
        if (c < 128) punct += CODE_PUNCT[c] as number;
      }
      i++;
      continue;
    }
    inToken = true;
    let w = WORD_SEED;
    do {
      w = Math.imul(w ^ c, FNV_PRIME);
      c = ++i < n ? text.charCodeAt(i) : -1;
    } while (isWordChar(c));
    w >>>= 0;
    if (GATE_FILTER[w & 4095] === 1) markGateWord(w);
    let b = bucketOf(w);
    visit(b);
    if (prev !== 0) {
      b = bucketOf(Math.imul(prev ^ Math.imul(w, 0x27d4eb2d), FNV_PRIME) ^ 0x9e3779b9);
      visit(b);
    }
    prev = w || 1;
  }
  if (inToken) {
    tokens++;
    weight += punct < 3 ? punct : 3;
  }
  suffixFound = weight >= 6 && weight >= 0.25 * tokens;
  markApostropheSegments(text);
  bucketCount = pass.count;
  return pass.sum;
}

/** Bucket indices of the hashed n-grams of one normalised window, de-duplicated. */
export function hashedBuckets(text: string): number[] {
  const out: number[] = [];
  hashWindow(text, null, out);
  return out;
}

/**
 * The n-gram part of a window's score without building its vector: the sum of `weights` over
 * the window's unique buckets and their count. The vector's dot product with the weights is
 * `sum / sqrt(count)` (see {@link vectorOf}).
 */
export function hashedWeightSum(text: string, weights: Float32Array): { sum: number; count: number } {
  const sum = hashWindow(text, weights, null);
  return { sum, count: bucketCount };
}

/** {@link hashedWeightSum} without allocating: returns the sum; the count is {@link lastBucketCount}. */
export function hashedWeightSumInto(text: string, weights: Float32Array): number {
  return hashWindow(text, weights, null);
}

/** The bucket count of the last {@link hashedWeightSumInto} call. */
export function lastBucketCount(): number {
  return bucketCount;
}

/** Bit `i` of a signal mask stands for `SIGNAL_NAMES[i]`. */
const bit = (name: SignalName): number => 1 << SIGNAL_NAMES.indexOf(name);
const ADVERSARIAL_SUFFIX = bit('adversarial_suffix');
const ENCODED_PAYLOAD = bit('encoded_payload');
const OBFUSCATION = bit('obfuscation');

/** The signal names of a mask, in SIGNAL_NAMES order. */
export function signalsOfMask(mask: number): SignalName[] {
  return SIGNAL_NAMES.filter((_, i) => (mask & (1 << i)) !== 0);
}

/** {@link windowSignals} as a mask (bit `i` is `SIGNAL_NAMES[i]`). */
export function windowSignalMask(window: string): number {
  return patternSignalMask(window) | (hasAdversarialSuffix(window) ? ADVERSARIAL_SUFFIX : 0);
}

/** The signals of one normalised window (pattern signals and the adversarial-suffix check). */
export function windowSignals(window: string): SignalName[] {
  return signalsOfMask(windowSignalMask(window));
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

/** A decoded payload that reads as an instruction: any pattern signal (role hijack included). */
function isInstructionLike(payload: string): boolean {
  return patternSignalMask(payload) !== 0;
}

/** A normalised text, its decoded payloads (normalised) and its text-level signal mask. */
function normalizedParts(raw: string): { text: string; payloads: string[]; global: number } {
  const { text, stats } = normalizeWithStats(raw);
  let global = 0;
  const payloads = decodedPayloads(raw).map((p) => normalizeWithStats(p).text);
  if (payloads.some(isInstructionLike)) global |= ENCODED_PAYLOAD;
  // Folded look-alikes count only when they hide inside Latin text, not in Cyrillic or Greek prose.
  if (stats.invisible >= 2 || (stats.homoglyphs >= 2 && nonAsciiLetters(text) < stats.homoglyphs)) {
    global |= OBFUSCATION;
  }
  return { text, payloads, global };
}

/** Calls `each` with every window of a normalised text, then with every payload. */
function forEachWindow(text: string, payloads: readonly string[], each: (w: string) => void): void {
  if (text.length <= WINDOW_CHARS) each(text);
  else {
    for (let start = 0; ; start += WINDOW_STRIDE) {
      each(text.slice(start, start + WINDOW_CHARS));
      if (start + WINDOW_CHARS >= text.length) break;
    }
  }
  for (const p of payloads) each(p);
}

/**
 * Normalises a raw text and calls `visit` with each window to score and its signal mask (bit
 * `i` is `SIGNAL_NAMES[i]`); returns the mask of every signal that fired. Decoded payloads
 * (base64, hex, rot13) are normalised and visited as extra windows, so an encoded instruction is
 * scored like a plain one; text-level signals (`encoded_payload`, `obfuscation`) are added to
 * every window. Training ({@link prepare}) takes this path; the detector takes
 * {@link analyzeWeighted}, which gives the same windows and masks.
 */
export function analyze(raw: string, visit: (window: string, mask: number) => void): number {
  const { text, payloads, global } = normalizedParts(raw);
  let all = global;
  forEachWindow(text, payloads, (w) => {
    const mask = windowSignalMask(w) | global;
    all |= mask;
    visit(w, mask);
  });
  return all;
}

/** Signal expressions, in SIGNAL_NAMES order (the pattern signals come first). */
const SIGNAL_RES = combinedPatterns();

/**
 * {@link analyze} for inference: each window is hashed once, which gives its weight sum over
 * `weights` (see {@link hashedWeightSum}), its adversarial-suffix signal and the words that open
 * the pattern signals' gates (gates.ts); only the signals whose gate is open run their
 * expression. `visit` gets the window's signal mask, weight sum and unique-bucket count.
 */
export function analyzeWeighted(
  raw: string,
  weights: Float32Array,
  visit: (mask: number, sum: number, count: number) => void,
): number {
  const { text, payloads, global } = normalizedParts(raw);
  let all = global;
  forEachWindow(text, payloads, (w) => {
    const sum = hashWindow(w, weights, null);
    let mask = global | (suffixFound ? ADVERSARIAL_SUFFIX : 0);
    for (let i = 0; i < SIGNAL_RES.length; i++) {
      if (gateOpen(i, w) && (SIGNAL_RES[i] as RegExp).test(w)) mask |= 1 << i;
    }
    all |= mask;
    visit(mask, sum, bucketCount);
  });
  return all;
}

/**
 * Normalises a raw text and prepares its windows' feature vectors (the training path; the
 * detector scores the same windows with the model's `scoreWindow`, without building
 * vectors).
 */
export function prepare(raw: string): PreparedText {
  const windows: SparseVector[] = [];
  const all = analyze(raw, (w, mask) => windows.push(vectorOf(w, signalsOfMask(mask))));
  return { windows, signals: signalsOfMask(all) };
}
