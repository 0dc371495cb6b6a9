/**
 * Logistic-regression inference from a sparse JSON weights file (see MODEL-CARD.md). The file
 * keeps only the largest weights; every other feature weighs zero.
 */
import {
  FEATURE_COUNT,
  HASH_BITS,
  HASH_BUCKETS,
  hashedWeightSumInto,
  lastBucketCount,
  type SparseVector,
} from './features.js';
import { SIGNAL_NAMES } from './heuristics.js';

/** The committed model file's shape (`model.json`). */
export interface InjectionModelFile {
  readonly format: 'ztgate-injection-lr/1';
  /** log2 of the hashed bucket count; must match the feature extractor. */
  readonly hashBits: number;
  /** Signal feature names, in order after the hashed block; must match the heuristics. */
  readonly signals: readonly string[];
  readonly bias: number;
  /** Decision threshold on the sigmoid score chosen by cross-validation. */
  readonly threshold: number;
  /** Feature indices, ascending. */
  readonly indices: readonly number[];
  /** Weights, one per index. */
  readonly weights: readonly number[];
  /** Provenance and cross-validated figures (informational). */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** A loaded model: dense weights for O(1) lookups. */
export interface InjectionModel {
  readonly threshold: number;
  /** Sigmoid score of one feature vector. */
  score(vector: SparseVector): number;
  /**
   * Sigmoid score of one normalised window with the given signal mask (bit `i` is
   * `SIGNAL_NAMES[i]`), computed while hashing: equal (to rounding) to `score(vectorOf(window,
   * signals))`, without building the vector.
   */
  scoreWindow(window: string, signalMask: number): number;
  /**
   * Sigmoid score of a window from its hashed weight sum over {@link weights}, its unique-bucket
   * count and its signal mask (what `analyzeWeighted` hands over): as `scoreWindow`.
   */
  scoreSum(sum: number, count: number, signalMask: number): number;
  /** The dense weights, hashed buckets then signals. */
  readonly weights: Float32Array;
}

/** The model file is missing, malformed or built for a different feature layout. */
export class InjectionModelError extends Error {
  readonly code = 'ERR_INJECTION_MODEL';
  constructor(message: string) {
    super(message);
    this.name = 'InjectionModelError';
  }
}

const isNumberArray = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** Checks a parsed model file; throws {@link InjectionModelError} on any mismatch. */
export function parseModelFile(value: unknown): InjectionModelFile {
  if (typeof value !== 'object' || value === null) throw new InjectionModelError('model is not an object');
  const m = value as Record<string, unknown>;
  if (m.format !== 'ztgate-injection-lr/1') throw new InjectionModelError('unknown model format');
  if (m.hashBits !== HASH_BITS) throw new InjectionModelError(`model hashBits must be ${HASH_BITS}`);
  const signals = m.signals;
  if (!Array.isArray(signals) || signals.join(',') !== SIGNAL_NAMES.join(',')) {
    throw new InjectionModelError('model signals do not match the heuristics; retrain');
  }
  if (typeof m.bias !== 'number' || !Number.isFinite(m.bias)) throw new InjectionModelError('bad bias');
  if (typeof m.threshold !== 'number' || !(m.threshold > 0 && m.threshold < 1)) {
    throw new InjectionModelError('threshold must be in (0, 1)');
  }
  if (!isNumberArray(m.indices) || !isNumberArray(m.weights) || m.indices.length !== m.weights.length) {
    throw new InjectionModelError('indices and weights must be numeric arrays of equal length');
  }
  for (const i of m.indices) {
    if (!Number.isInteger(i) || i < 0 || i >= FEATURE_COUNT)
      throw new InjectionModelError('index out of range');
  }
  return value as InjectionModelFile;
}

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Builds a scorer from a checked model file. */
export function loadModel(file: InjectionModelFile, threshold = file.threshold): InjectionModel {
  const dense = new Float32Array(FEATURE_COUNT);
  file.indices.forEach((idx, k) => {
    dense[idx] = file.weights[k] ?? 0;
  });
  const bias = file.bias;
  const scoreSum = (sum: number, count: number, signalMask: number): number => {
    // The vector's n-gram values are 1/sqrt(count), rounded to float32 as in vectorOf.
    let z = bias + (count > 0 ? Math.fround(1 / Math.sqrt(count)) * sum : 0);
    for (let i = 0; signalMask >>> i !== 0; i++) {
      if ((signalMask & (1 << i)) !== 0) z += dense[HASH_BUCKETS + i] as number;
    }
    return sigmoid(z);
  };
  return {
    threshold,
    weights: dense,
    scoreSum,
    score(vector: SparseVector): number {
      let z = bias;
      const { indices, values } = vector;
      for (let k = 0; k < indices.length; k++) z += (dense[indices[k] ?? 0] ?? 0) * (values[k] ?? 0);
      return sigmoid(z);
    },
    scoreWindow(window: string, signalMask: number): number {
      const sum = hashedWeightSumInto(window, dense);
      return scoreSum(sum, lastBucketCount(), signalMask);
    },
  };
}
