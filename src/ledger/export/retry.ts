/** Backoff between attempts, shared by the stream and HTTP sinks. */

export interface BackoffOptions {
  /** Delay before the first retry. Default 200 ms. */
  readonly initialDelayMs?: number;
  /** Upper bound of any one delay. Default 30 s. */
  readonly maxDelayMs?: number;
}

export interface Backoff {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export function checkedBackoff(options: BackoffOptions = {}): Backoff {
  const initialDelayMs = options.initialDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  if (!(initialDelayMs >= 0 && maxDelayMs >= initialDelayMs && Number.isFinite(maxDelayMs))) {
    throw new RangeError('backoff needs 0 <= initialDelayMs <= maxDelayMs < Infinity');
  }
  return { initialDelayMs, maxDelayMs };
}

/**
 * The delay before retry number `attempt` (0 for the first retry): exponential, capped, with "equal
 * jitter" so that many exporters cut off by one outage do not reconnect in step.
 */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxDelayMs, backoff.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
