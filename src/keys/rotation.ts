import { isKeyError } from './errors.js';
import type { KeyManager } from './key-manager.js';

/** Rotate `name` when its primary version is older than `periodMs`. */
export interface RotationPolicy {
  readonly name: string;
  readonly periodMs: number;
}

export const ROTATION_ACTOR = 'system:rotation';

/** Rotates each key whose primary version is older than its period. Returns what it rotated. */
export async function rotateDueKeys(
  keys: KeyManager,
  policies: readonly RotationPolicy[],
  now: number = Date.now(),
): Promise<{ rotated: string[]; failed: { name: string; code: string }[] }> {
  const rotated: string[] = [];
  const failed: { name: string; code: string }[] = [];
  for (const policy of policies) {
    try {
      const info = await keys.describeKey(policy.name);
      const primary = info.versions.find((v) => v.version === info.primaryVersion);
      if (!primary || now - Date.parse(primary.createdAt) < policy.periodMs) continue;
      await keys.rotateKey(policy.name, ROTATION_ACTOR);
      rotated.push(policy.name);
    } catch (err) {
      // A key that does not exist yet is created by its module on first use; nothing to rotate.
      if (isKeyError(err, 'key_not_found')) continue;
      failed.push({ name: policy.name, code: isKeyError(err) ? err.code : 'internal_error' });
    }
  }
  return { rotated, failed };
}

export interface RotationSchedulerOptions {
  readonly keys: KeyManager;
  readonly policies: readonly RotationPolicy[];
  readonly intervalMs: number;
  /**
   * Taken before each round so that one replica of many rotates (a short-lived lock on the
   * StateBus); resolve false to skip this round.
   */
  readonly acquire: () => Promise<boolean>;
  readonly onRound: (result: { rotated: string[]; failed: { name: string; code: string }[] }) => void;
  readonly onError: (err: unknown) => void;
}

/** Checks the rotation policies now and then every `intervalMs`. Returns a stop function. */
export function startRotationScheduler(options: RotationSchedulerOptions): () => void {
  let running = false;
  const round = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      if (!(await options.acquire())) return;
      options.onRound(await rotateDueKeys(options.keys, options.policies));
    } catch (err) {
      options.onError(err);
    } finally {
      running = false;
    }
  };
  void round();
  const timer = setInterval(() => void round(), options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
