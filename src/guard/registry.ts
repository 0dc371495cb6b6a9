import type { ZtgateConfig } from '../config/index.js';
import { createInjectionDetector } from './injection/index.js';
import { createNameRecognizer } from './ner/index.js';
import { createCustomRecognizers, createPiiRecognizers } from './pii/index.js';
import { createSecretRecognizer } from './secrets/index.js';
import type { Detection, InjectionDetector, Recognizer } from './types.js';

export type GuardConfig = ZtgateConfig['guard'];

/** The detectors the config turns on: the one place that names them. */
export interface Detectors {
  readonly recognizers: readonly Recognizer[];
  readonly injection: InjectionDetector | undefined;
  /** Every recognizer over `text`, findings under `minScore` dropped. */
  scan(text: string): Detection[];
}

export function createDetectors(config: GuardConfig): Detectors {
  const recognizers: Recognizer[] = [];
  if (config.pii) recognizers.push(...createPiiRecognizers());
  if (config.names) recognizers.push(createNameRecognizer());
  if (config.secrets) recognizers.push(createSecretRecognizer());
  recognizers.push(...createCustomRecognizers(config.custom));
  const injection = config.injection.enabled
    ? createInjectionDetector(
        config.injection.threshold === undefined ? {} : { threshold: config.injection.threshold },
      )
    : undefined;
  const minScore = config.minScore;
  return {
    recognizers,
    injection,
    scan(text) {
      const out: Detection[] = [];
      for (const r of recognizers) for (const d of r.detect(text)) if (d.score >= minScore) out.push(d);
      return out;
    },
  };
}
