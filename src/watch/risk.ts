/**
 * Decaying risk scores per principal, device, session and workspace. Each key holds a raw sum of
 * signal weights that halves every `halfLifeMs`; its score saturates smoothly:
 *
 *   score = 100 × (1 − e^(−raw / scale))
 *
 * so it is always in [0, 100), grows with every signal but ever more slowly, and with the default
 * scale 50 one signal of weight 50 gives 63, a canary leak (60) 70, and five injections at score
 * 0.9 (5 × 13.5) 74. Without new signals a score only falls.
 */
import type { SignalSubject, SignalType } from './signals.js';
import { BoundedMap } from './window-counter.js';

/** Risk added per signal, before saturation. `injection` and `jailbreak` are scaled by the detector score. */
export type SignalWeights = Readonly<Record<SignalType, number>> & {
  /** Used instead of `injection` when the finding is a JAILBREAK. */
  readonly jailbreak: number;
};

export const DEFAULT_SIGNAL_WEIGHTS: SignalWeights = Object.freeze({
  denial: 5,
  injection: 15,
  jailbreak: 20,
  pii: 2,
  secret: 10,
  canary_leak: 60,
  new_device: 5,
  unusual_hour: 5,
  burst: 10,
  token_burn: 10,
  unusual_model: 5,
  unusual_data_class: 5,
});

/** The default weights with some of them replaced. */
export function signalWeights(overrides: Partial<SignalWeights> = {}): SignalWeights {
  return Object.freeze({ ...DEFAULT_SIGNAL_WEIGHTS, ...overrides });
}

export interface RiskOptions {
  /** Half-life of the raw sum (default 1 h). */
  readonly halfLifeMs: number;
  /** Saturation scale of the score (default 50): raw = scale gives 63. */
  readonly scale: number;
  /** Most keys kept; past it the least recently raised half is dropped (default 100,000; at least 2). */
  readonly maxKeys: number;
}

export const DEFAULT_RISK_OPTIONS: RiskOptions = Object.freeze({
  halfLifeMs: 3_600_000,
  scale: 50,
  maxKeys: 100_000,
});

/** A raw sum below this is treated as zero and its key forgotten. */
const NEGLIGIBLE = 1e-3;

export const riskKey = {
  principal: (id: string): string => `principal:${id}`,
  device: (id: string): string => `device:${id}`,
  session: (id: string): string => `session:${id}`,
  workspace: (id: string): string => `workspace:${id}`,
};

interface RawRisk {
  raw: number;
  at: number;
}

export class RiskScores {
  readonly options: RiskOptions;
  private readonly entries: BoundedMap<RawRisk>;

  constructor(options: Partial<RiskOptions> = {}) {
    this.options = Object.freeze({ ...DEFAULT_RISK_OPTIONS, ...options });
    this.entries = new BoundedMap(this.options.maxKeys);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Adds `weight` (≥ 0) to the key at `now` and returns its new score. */
  add(key: string, weight: number, now: number): number {
    const entry = this.entries.get(key);
    const w = Number.isFinite(weight) && weight > 0 ? weight : 0;
    if (entry === undefined) {
      if (w === 0) return 0;
      this.entries.set(key, { raw: w, at: now });
      return this.toScore(w);
    }
    entry.raw = this.decayed(entry, now) + w;
    entry.at = Math.max(entry.at, now);
    return this.toScore(entry.raw);
  }

  /** The key's score at `now`, 0..100 (0 for an unknown key). */
  score(key: string, now: number): number {
    const entry = this.entries.peek(key);
    if (entry === undefined) return 0;
    const raw = this.decayed(entry, now);
    if (raw < NEGLIGIBLE) {
      this.entries.delete(key);
      return 0;
    }
    return this.toScore(raw);
  }

  /** Raises every key of the signal's subject (principal, device, session, workspace) by its weight. */
  addSignal(signal: { readonly subject: SignalSubject; readonly weight: number }, now: number): void {
    const s = signal.subject;
    this.add(riskKey.principal(s.principalId), signal.weight, now);
    if (s.deviceId) this.add(riskKey.device(s.deviceId), signal.weight, now);
    if (s.sessionId) this.add(riskKey.session(s.sessionId), signal.weight, now);
    if (s.workspace) this.add(riskKey.workspace(s.workspace), signal.weight, now);
  }

  /**
   * The risk policy sees for a request: the highest of its principal's, device's and session's
   * scores. The workspace's score is left out: other users' behaviour should not deny this one.
   */
  forSubject(subject: SignalSubject, now: number): number {
    let max = this.score(riskKey.principal(subject.principalId), now);
    if (subject.deviceId) max = Math.max(max, this.score(riskKey.device(subject.deviceId), now));
    if (subject.sessionId) max = Math.max(max, this.score(riskKey.session(subject.sessionId), now));
    return max;
  }

  /** The `n` highest scores at `now`, highest first. O(keys). */
  top(n: number, now: number): { key: string; score: number }[] {
    const out: { key: string; score: number }[] = [];
    if (n <= 0) return out;
    for (const [key, entry] of this.entries.entries()) {
      const score = this.toScore(this.decayed(entry, now));
      if (score <= 0 || (out.length === n && score <= (out[n - 1]?.score ?? 0))) continue;
      let i = out.length === n ? n - 1 : out.length;
      if (out.length === n) out.pop();
      while (i > 0 && (out[i - 1]?.score ?? 0) < score) i--;
      out.splice(i, 0, { key, score });
    }
    return out;
  }

  private decayed(entry: RawRisk, now: number): number {
    const dt = now - entry.at;
    return dt > 0 ? entry.raw * 2 ** (-dt / this.options.halfLifeMs) : entry.raw;
  }

  private toScore(raw: number): number {
    return 100 * (1 - Math.exp(-raw / this.options.scale));
  }
}
