/**
 * Training helpers for the injection classifier (used by scripts/train-injection.ts, never at
 * request time): seeded logistic regression with AdaGrad and L2 on sparse vectors, top-K
 * pruning, and the ROC figures the model card reports.
 */
import { FEATURE_COUNT, type SparseVector } from './features.js';
import { sigmoid } from './classifier.js';

export interface TrainOptions {
  readonly epochs: number;
  readonly learningRate: number;
  readonly l2: number;
  /** Keep only this many weights (largest magnitude); the rest are zero. */
  readonly topK: number;
  readonly seed: number;
}

export const DEFAULT_TRAIN: TrainOptions = {
  epochs: 40,
  learningRate: 0.3,
  l2: 6e-5,
  topK: 30_000,
  seed: 1337,
};

export interface SparseWeights {
  readonly bias: number;
  readonly indices: number[];
  readonly weights: number[];
}

/** Mulberry32: a small, seeded PRNG so training is reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** Fits logistic regression (balanced class weights) and prunes to the top-K weights. */
export function train(xs: readonly SparseVector[], ys: readonly number[], opts: TrainOptions): SparseWeights {
  const w = new Float64Array(FEATURE_COUNT);
  const g2 = new Float64Array(FEATURE_COUNT);
  let bias = 0;
  let biasG2 = 0;
  const pos = ys.filter((y) => y === 1).length;
  const neg = ys.length - pos;
  const classWeight = [ys.length / (2 * Math.max(1, neg)), ys.length / (2 * Math.max(1, pos))];
  const random = rng(opts.seed);
  const order = xs.map((_, i) => i);
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    for (const i of shuffle(order, random)) {
      const x = xs[i] as SparseVector;
      const y = ys[i] as number;
      let z = bias;
      for (let k = 0; k < x.indices.length; k++)
        z += (w[x.indices[k] as number] ?? 0) * (x.values[k] as number);
      const err = (sigmoid(z) - y) * (classWeight[y] as number);
      for (let k = 0; k < x.indices.length; k++) {
        const j = x.indices[k] as number;
        const wj = w[j] as number;
        const grad = err * (x.values[k] as number) + opts.l2 * wj;
        g2[j] = (g2[j] as number) + grad * grad;
        w[j] = wj - (opts.learningRate * grad) / (Math.sqrt(g2[j] as number) + 1e-8);
      }
      biasG2 += err * err;
      bias -= (opts.learningRate * err) / (Math.sqrt(biasG2) + 1e-8);
    }
  }
  return prune(w, bias, opts.topK);
}

function prune(w: Float64Array, bias: number, topK: number): SparseWeights {
  const nonZero: number[] = [];
  for (let j = 0; j < w.length; j++) if (w[j] !== 0) nonZero.push(j);
  nonZero.sort((a, b) => Math.abs(w[b] as number) - Math.abs(w[a] as number));
  const kept = nonZero.slice(0, topK).sort((a, b) => a - b);
  return { bias, indices: kept, weights: kept.map((j) => Number((w[j] as number).toPrecision(4))) };
}

/** Area under the ROC curve (ties count half). */
export function auc(scores: readonly number[], labels: readonly number[]): number {
  const pairs = scores.map((s, i) => [s, labels[i] as number] as const).sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  let pos = 0;
  for (let i = 0; i < pairs.length;) {
    let j = i;
    while (
      j < pairs.length &&
      (pairs[j] as readonly [number, number])[0] === (pairs[i] as readonly [number, number])[0]
    )
      j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if ((pairs[k] as readonly [number, number])[1] === 1) {
        rankSum += avgRank;
        pos++;
      }
    }
    i = j;
  }
  const neg = pairs.length - pos;
  return pos === 0 || neg === 0 ? NaN : (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * The lowest threshold whose false-positive rate (score ≥ threshold) stays within maxFpr, and
 * the true-positive rate there.
 */
export function thresholdAtFpr(
  scores: readonly number[],
  labels: readonly number[],
  maxFpr: number,
): { threshold: number; tpr: number; fpr: number } {
  const negatives = scores.filter((_, i) => labels[i] === 0).sort((a, b) => b - a);
  const allowed = Math.floor(maxFpr * negatives.length);
  // Just above the (allowed+1)-th highest negative score.
  const cut = negatives[allowed];
  const threshold = cut === undefined ? 0.5 : Math.min(0.999999, cut + 1e-6);
  return { threshold, ...rates(scores, labels, threshold) };
}

export function rates(
  scores: readonly number[],
  labels: readonly number[],
  threshold: number,
): { tpr: number; fpr: number } {
  let tp = 0;
  let fp = 0;
  let p = 0;
  let n = 0;
  scores.forEach((s, i) => {
    if (labels[i] === 1) {
      p++;
      if (s >= threshold) tp++;
    } else {
      n++;
      if (s >= threshold) fp++;
    }
  });
  return { tpr: p ? tp / p : NaN, fpr: n ? fp / n : NaN };
}
