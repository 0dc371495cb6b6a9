import { watch, type FSWatcher } from 'node:fs';
import {
  measureCode,
  measureConfig,
  measureWeights,
  type ConfigInputs,
  type Measurements,
  type ModelFacts,
  type QuarantineReason,
  type WeightsOptions,
} from './measure.js';

/** The agent's state: it forwards and attests only while healthy. */
export type AgentState =
  | {
      readonly status: 'healthy';
      readonly measurements: Measurements;
      readonly model: ModelFacts;
      /** ms since the epoch. */
      readonly measuredAt: number;
    }
  | {
      readonly status: 'quarantined';
      readonly reason: QuarantineReason;
      /** When the agent entered quarantine (ms since the epoch). */
      readonly since: number;
      readonly measuredAt: number;
    };

export interface MonitorOptions {
  readonly weights: WeightsOptions;
  /** The directory the agent's code runs from. */
  readonly codeRoot: string;
  readonly config: ConfigInputs;
  /** Re-measure every this many ms. */
  readonly intervalMs: number;
  /** Quiet time after the last file event before measuring (default 100 ms). */
  readonly debounceMs?: number;
  /** Watch the weights directory for changes (default true). */
  readonly watch?: boolean;
  /** Told of every change of state (healthy ↔ quarantined, or a new reason). */
  readonly onChange?: (state: AgentState, previous: AgentState | undefined) => void;
  /** Told when the watcher fails (the schedule still runs). */
  readonly onWatchError?: (err: unknown) => void;
}

function sameState(a: AgentState, b: AgentState): boolean {
  if (a.status === 'healthy' && b.status === 'healthy') {
    return (
      a.measurements.weights === b.measurements.weights &&
      a.measurements.agent === b.measurements.agent &&
      a.measurements.config === b.measurements.config
    );
  }
  if (a.status === 'quarantined' && b.status === 'quarantined') {
    return (
      a.reason.code === b.reason.code &&
      (a.reason.files ?? []).join('\0') === (b.reason.files ?? []).join('\0')
    );
  }
  return false;
}

/**
 * Measures the runtime at start, every `intervalMs` and shortly after a file in the weights
 * directory changes. Measurements never overlap: a request for one while another runs makes one
 * more run afterwards, so the last state always reflects the files after the last change.
 *
 * The code and config measurements taken at start are what the process runs; a later measurement
 * that differs quarantines the agent (`code_changed`, `config_changed`) until they match again.
 */
export class MeasurementMonitor {
  #state: AgentState | undefined;
  #baseline: { agent: string; config: string } | undefined;
  #running: Promise<AgentState> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #watcher: FSWatcher | undefined;
  #closed = false;

  constructor(private readonly options: MonitorOptions) {}

  /** The current state; undefined before the first measurement completes. */
  get state(): AgentState | undefined {
    return this.#state;
  }

  /** Takes the first measurement (the baseline of code and config), then starts the schedule and the watcher. */
  async start(): Promise<AgentState> {
    const state = await this.measure();
    if (this.#closed) return state;
    this.#timer = setInterval(() => void this.measure(), this.options.intervalMs);
    this.#timer.unref();
    if (this.options.watch !== false) this.startWatching();
    return state;
  }

  /** Measures now (or after the measurement under way, which then runs once more). */
  measure(): Promise<AgentState> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const run = async (): Promise<AgentState> => {
      let state: AgentState;
      do {
        this.#again = false;
        state = await this.measureOnce();
        this.update(state);
      } while (this.#again && !this.#closed);
      return state;
    };
    this.#running = run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#watcher?.close();
  }

  private startWatching(): void {
    const onEvent = (): void => {
      if (this.#closed) return;
      if (this.#debounce) clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => void this.measure(), this.options.debounceMs ?? 100);
      this.#debounce.unref();
    };
    const dir = this.options.weights.modelDir;
    try {
      this.#watcher = watch(dir, { recursive: true, persistent: false }, onEvent);
    } catch {
      try {
        // Recursive watching is not available everywhere; the top level and the schedule remain.
        this.#watcher = watch(dir, { persistent: false }, onEvent);
      } catch (err) {
        this.options.onWatchError?.(err);
        return;
      }
    }
    this.#watcher.on('error', (err) => this.options.onWatchError?.(err));
  }

  private async measureOnce(): Promise<AgentState> {
    const measuredAt = Date.now();
    const quarantined = (reason: QuarantineReason): AgentState => ({
      status: 'quarantined',
      reason,
      since: this.#state?.status === 'quarantined' ? this.#state.since : measuredAt,
      measuredAt,
    });
    let agent: string;
    let config: string;
    try {
      [agent, config] = await Promise.all([
        measureCode(this.options.codeRoot),
        measureConfig(this.options.config),
      ]);
    } catch (err) {
      return quarantined({
        code: 'measure_failed',
        message: `cannot measure the agent's code or config: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
    this.#baseline ??= { agent, config };
    if (agent !== this.#baseline.agent) {
      return quarantined({
        code: 'code_changed',
        message: "the agent's code changed on disk since it started",
      });
    }
    if (config !== this.#baseline.config) {
      return quarantined({
        code: 'config_changed',
        message: "the agent's configuration files changed on disk since it started",
      });
    }
    const weights = await measureWeights(this.options.weights);
    if ('reason' in weights) return quarantined(weights.reason);
    return {
      status: 'healthy',
      measurements: { weights: weights.weights, agent, config },
      model: weights.model,
      measuredAt,
    };
  }

  private update(state: AgentState): void {
    const previous = this.#state;
    this.#state = state;
    if (!previous || !sameState(previous, state)) this.options.onChange?.(state, previous);
  }
}
