/**
 * The layered prompt-injection / jailbreak detector: normalisation (../normalize.ts), named
 * heuristic signals (heuristics.ts) and a hashed n-gram logistic regression (model.json) that
 * takes the signals as features. Offline, CPU only, linear time.
 *
 * Long texts are scored in overlapping 4 KiB windows (of normalised text) and the highest window
 * wins, so padding cannot dilute an injection; decoded base64/hex/rot13 payloads are scored as
 * windows of their own. See MODEL-CARD.md for the data, the cross-validated figures and limits.
 */
import { readFileSync } from 'node:fs';
import type { InjectionDetector, InjectionVerdict } from '../types.js';
import { InjectionModelError, loadModel, parseModelFile, type InjectionModelFile } from './classifier.js';
import { analyzeWeighted, signalsOfMask } from './features.js';

export { InjectionModelError, type InjectionModelFile } from './classifier.js';
export { SIGNAL_NAMES, type SignalName } from './heuristics.js';

export interface InjectionDetectorOptions {
  /**
   * Flag when the score is at least this (0..1). Default: the model's `threshold`, chosen on
   * grouped cross-validation for a false-positive rate of about 1% (see MODEL-CARD.md). A value
   * outside (0, 1) is a start-up error.
   */
  readonly threshold?: number;
  /**
   * Model weights: a parsed model file, or a path to one. Default: the committed model.json.
   * A malformed or mismatched file is a start-up error ({@link InjectionModelError}).
   */
  readonly weights?: InjectionModelFile | string;
}

/** Resolves from src/guard/injection/*.ts and dist/guard/injection/*.js alike. */
const DEFAULT_MODEL = new URL('../../../src/guard/injection/model.json', import.meta.url);

function readModel(source: URL | string): unknown {
  try {
    return JSON.parse(readFileSync(source, 'utf8')) as unknown;
  } catch (cause) {
    throw new InjectionModelError(`cannot read injection model: ${(cause as Error).message}`);
  }
}

/** Builds the detector; checks options and the model once, here. */
export function createInjectionDetector(options: InjectionDetectorOptions = {}): InjectionDetector {
  const raw =
    options.weights === undefined || typeof options.weights === 'string'
      ? readModel(options.weights ?? DEFAULT_MODEL)
      : options.weights;
  const file = parseModelFile(raw);
  const threshold = options.threshold ?? file.threshold;
  if (!(Number.isFinite(threshold) && threshold > 0 && threshold < 1)) {
    throw new InjectionModelError('threshold must be a number in (0, 1)');
  }
  const model = loadModel(file, threshold);
  return {
    name: 'injection',
    score(text: string): InjectionVerdict {
      let score = 0;
      const all = analyzeWeighted(text, model.weights, (mask, sum, count) => {
        score = Math.max(score, model.scoreSum(sum, count, mask));
      });
      return { score, flagged: score >= threshold, signals: signalsOfMask(all) };
    },
  };
}
