/**
 * The anomaly rule set: every threshold the baselines compare against, in one overridable object.
 * Behavioural anomalies are judged per principal, against that principal's own history
 * (baseline.ts); signals.ts turns a rule that holds into a signal.
 */

/** The behavioural anomalies (the other signal types come straight from an audit entry). */
export const ANOMALY_TYPES = [
  'new_device',
  'unusual_hour',
  'burst',
  'token_burn',
  'unusual_model',
  'unusual_data_class',
] as const;
export type AnomalyType = (typeof ANOMALY_TYPES)[number];

export interface AnomalyRules {
  /**
   * Warm-up: `new_device`, `unusual_hour`, `token_burn`, `unusual_model` and `unusual_data_class`
   * stay silent until the principal's baseline has seen at least `warmupEvents` events AND is at
   * least `warmupMs` old, so that a new user is not flagged for everything they do first.
   * 0 disables that half of the condition. `burst` needs no history and is not gated.
   */
  readonly warmupEvents: number;
  readonly warmupMs: number;

  /** Half-lives of the short and the long exponentially weighted request rate. */
  readonly rateShortHalfLifeMs: number;
  readonly rateLongHalfLifeMs: number;
  /** `burst`: short rate > burstFactor × long rate AND short rate > burstFloorPerMinute. */
  readonly burstFactor: number;
  readonly burstFloorPerMinute: number;

  /** Half-life of the 24-bucket hour-of-day histogram (hours are UTC). */
  readonly hourHalfLifeMs: number;
  /** `unusual_hour`: the share of the request's hour in the histogram is below this. */
  readonly unusualHourShare: number;

  /** Half-life, in active hours, of the per-hour token EWMA (hours without requests are skipped). */
  readonly tokenHalfLifeHours: number;
  /** `token_burn`: tokens in the last hour > tokenBurnFactor × the EWMA AND > tokenBurnFloor. */
  readonly tokenBurnFactor: number;
  readonly tokenBurnFloor: number;

  /** `unusual_model` / `unusual_data_class`: the value's share of the principal's requests is below this (0 = never seen). */
  readonly rareShare: number;

  /**
   * One anomaly of a given type per principal per this interval: a burst of 500 requests is one
   * `burst` signal, not 500, so that one episode cannot saturate the risk score on its own.
   * `new_device` is exempt (a device is new only once anyway).
   */
  readonly anomalyRepeatMs: number;

  /** Memory bounds. */
  readonly maxPrincipals: number;
  readonly maxDevicesPerPrincipal: number;
  readonly maxModelsPerPrincipal: number;
  readonly maxDataClassesPerPrincipal: number;
}

export const DEFAULT_ANOMALY_RULES: AnomalyRules = Object.freeze({
  warmupEvents: 30,
  warmupMs: 24 * 3_600_000,
  rateShortHalfLifeMs: 60_000,
  rateLongHalfLifeMs: 3_600_000,
  burstFactor: 4,
  burstFloorPerMinute: 30,
  hourHalfLifeMs: 7 * 24 * 3_600_000,
  unusualHourShare: 0.02,
  tokenHalfLifeHours: 24,
  tokenBurnFactor: 5,
  tokenBurnFloor: 200_000,
  rareShare: 0.02,
  anomalyRepeatMs: 10 * 60_000,
  maxPrincipals: 50_000,
  maxDevicesPerPrincipal: 16,
  maxModelsPerPrincipal: 32,
  maxDataClassesPerPrincipal: 8,
});

/** The default rules with some of them replaced. */
export function anomalyRules(overrides: Partial<AnomalyRules> = {}): AnomalyRules {
  return Object.freeze({ ...DEFAULT_ANOMALY_RULES, ...overrides });
}

/** Per-minute rate of an exponentially decayed event count with the given half-life. */
export function decayedRatePerMinute(count: number, halfLifeMs: number): number {
  // A count decayed with half-life h converges to rate × h/ln2 under a steady rate.
  return (count * 60_000 * Math.LN2) / halfLifeMs;
}

export function isBurst(shortPerMin: number, longPerMin: number, rules: AnomalyRules): boolean {
  return shortPerMin > rules.burstFloorPerMinute && shortPerMin > rules.burstFactor * longPerMin;
}

export function isTokenBurn(lastHourTokens: number, ewmaPerHour: number, rules: AnomalyRules): boolean {
  return lastHourTokens > rules.tokenBurnFloor && lastHourTokens > rules.tokenBurnFactor * ewmaPerHour;
}

export function isRare(count: number, total: number, share: number): boolean {
  return total <= 0 || count / total < share;
}
