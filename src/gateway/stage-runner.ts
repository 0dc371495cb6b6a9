import { asStageError, type StageName } from '../core/index.js';
import type { GatewayMetrics } from './metrics.js';

export type StageTimeouts = Readonly<Record<Exclude<StageName, 'ingress' | 'upstream' | 'release'>, number>>;

class StageTimeout extends Error {
  constructor(stage: StageName, ms: number) {
    super(`stage ${stage} timed out after ${ms} ms`);
    this.name = 'StageTimeout';
  }
}

/**
 * Runs one stage with its time limit, records its duration and outcome, and turns anything it
 * throws (or a time-out) into that stage's typed error.
 * INVARIANT: this never resolves with a value after a failure: fail closed.
 */
export async function runStage<T>(
  metrics: GatewayMetrics,
  stage: StageName,
  timeoutMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StageTimeout(stage, timeoutMs)), timeoutMs);
      }),
    ]);
    metrics.observeStage(stage, (performance.now() - started) / 1000, 'ok');
    return result;
  } catch (err) {
    const zt = asStageError(stage, err);
    metrics.observeStage(stage, (performance.now() - started) / 1000, zt.code);
    throw zt;
  } finally {
    clearTimeout(timer);
  }
}
