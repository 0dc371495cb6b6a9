/**
 * Per-principal behavioural baselines: request rates, hour-of-day profile, token use, models,
 * data classes and devices. Memory is bounded: the least recently seen principals are forgotten first,
 * and each principal's maps are capped. Time is always passed in.
 */
import {
  ANOMALY_TYPES,
  anomalyRules,
  decayedRatePerMinute,
  type AnomalyRules,
  type AnomalyType,
} from './anomaly.js';
import { BoundedMap } from './window-counter.js';

const HOUR_MS = 3_600_000;
/** Frequency counts are halved past this total, so old habits fade and counts stay small. */
const FREQUENCY_HALVING_TOTAL = 10_000;

/** What one request adds to a baseline. */
export interface Observation {
  readonly deviceId?: string | null;
  readonly modelId?: string | null;
  readonly dataClass?: string | null;
  readonly tokens: number;
}

/** Counts per value with a cap on distinct values: past it, the least frequent value goes. */
export class FrequencyMap {
  private readonly counts = new Map<string, number>();
  private sum = 0;

  constructor(private readonly cap: number) {}

  get total(): number {
    return this.sum;
  }
  get size(): number {
    return this.counts.size;
  }
  count(value: string): number {
    return this.counts.get(value) ?? 0;
  }

  add(value: string): void {
    const before = this.counts.get(value);
    if (before === undefined && this.counts.size >= this.cap) this.evictLeastFrequent();
    this.counts.set(value, (before ?? 0) + 1);
    if (++this.sum > FREQUENCY_HALVING_TOTAL) this.halve();
  }

  private evictLeastFrequent(): void {
    let victim: string | undefined;
    let least = Infinity;
    for (const [value, n] of this.counts) {
      if (n < least) {
        least = n;
        victim = value;
      }
    }
    if (victim !== undefined) {
      this.counts.delete(victim);
      this.sum -= least;
    }
  }

  private halve(): void {
    this.sum = 0;
    for (const [value, n] of this.counts) {
      const half = Math.floor(n / 2);
      if (half === 0) this.counts.delete(value);
      else {
        this.counts.set(value, half);
        this.sum += half;
      }
    }
  }
}

/** One principal's history. Read by signals.ts before the request is added with `observe`. */
export class PrincipalBaseline {
  readonly firstSeen: number;
  events = 0;
  private last: number;
  /** Exponentially decayed event counts as of `last`. */
  private shortCount = 0;
  private longCount = 0;
  private readonly hours = new Float64Array(24);
  private hoursTotal = 0;
  /** Tokens of the current UTC hour (`tokenHour`) and of the hour before it, if contiguous. */
  private tokenHour = -1;
  private tokensThisHour = 0;
  private tokensPrevHour = 0;
  /** EWMA of the tokens of completed hours that had requests; NaN until one has completed. */
  private tokenEwma = Number.NaN;
  private readonly lastAnomaly = new Float64Array(ANOMALY_TYPES.length).fill(-Infinity);
  readonly devices = new Map<string, number>();
  readonly models: FrequencyMap;
  readonly dataClasses: FrequencyMap;

  constructor(
    now: number,
    readonly rules: AnomalyRules,
  ) {
    this.firstSeen = now;
    this.last = now;
    this.models = new FrequencyMap(rules.maxModelsPerPrincipal);
    this.dataClasses = new FrequencyMap(rules.maxDataClassesPerPrincipal);
  }

  /** Past the warm-up (see AnomalyRules.warmupEvents / warmupMs). */
  isWarm(now: number): boolean {
    return this.events >= this.rules.warmupEvents && now - this.firstSeen >= this.rules.warmupMs;
  }

  /** Short and long request rates per minute at `now`, counting `extra` more events at `now`. */
  ratesPerMinute(now: number, extra = 0): { short: number; long: number } {
    const dt = Math.max(0, now - this.last);
    const short = this.shortCount * 2 ** (-dt / this.rules.rateShortHalfLifeMs) + extra;
    const long = this.longCount * 2 ** (-dt / this.rules.rateLongHalfLifeMs) + extra;
    return {
      short: decayedRatePerMinute(short, this.rules.rateShortHalfLifeMs),
      long: decayedRatePerMinute(long, this.rules.rateLongHalfLifeMs),
    };
  }

  /** Share (0..1) of the principal's requests that fell in the UTC hour of `now`. */
  hourShare(now: number): number {
    if (this.hoursTotal <= 0) return 0;
    // Decay scales every bucket alike, so the share needs no decay here.
    return (this.hours[utcHour(now)] ?? 0) / this.hoursTotal;
  }

  /** Tokens in the 60 minutes before `now` (the previous hour pro rata), plus `extra`. */
  lastHourTokens(now: number, extra = 0): number {
    const hour = Math.floor(now / HOUR_MS);
    const rest = 1 - (now - hour * HOUR_MS) / HOUR_MS;
    if (hour === this.tokenHour) return this.tokensThisHour + this.tokensPrevHour * rest + extra;
    if (hour === this.tokenHour + 1) return this.tokensThisHour * rest + extra;
    return extra;
  }

  /** Typical tokens in an active hour; NaN until one active hour has completed. */
  tokensPerActiveHour(): number {
    return this.tokenEwma;
  }

  /** Whether an anomaly of this type may be signalled again (AnomalyRules.anomalyRepeatMs). */
  mayRepeat(type: AnomalyType, now: number): boolean {
    return now - (this.lastAnomaly[ANOMALY_TYPES.indexOf(type)] ?? -Infinity) >= this.rules.anomalyRepeatMs;
  }

  markAnomaly(type: AnomalyType, now: number): void {
    this.lastAnomaly[ANOMALY_TYPES.indexOf(type)] = now;
  }

  /** Adds one request. */
  observe(obs: Observation, now: number): void {
    const dt = Math.max(0, now - this.last);
    this.events++;
    this.shortCount = this.shortCount * 2 ** (-dt / this.rules.rateShortHalfLifeMs) + 1;
    this.longCount = this.longCount * 2 ** (-dt / this.rules.rateLongHalfLifeMs) + 1;
    this.observeHour(dt, now);
    this.observeTokens(obs.tokens, now);
    if (obs.deviceId) {
      this.devices.delete(obs.deviceId);
      this.devices.set(obs.deviceId, now);
      if (this.devices.size > this.rules.maxDevicesPerPrincipal) {
        const oldest = this.devices.keys().next();
        if (!oldest.done) this.devices.delete(oldest.value);
      }
    }
    if (obs.modelId) this.models.add(obs.modelId);
    if (obs.dataClass) this.dataClasses.add(obs.dataClass);
    this.last = Math.max(this.last, now);
  }

  private observeHour(dt: number, now: number): void {
    if (dt > 0) {
      const k = 2 ** (-dt / this.rules.hourHalfLifeMs);
      for (let h = 0; h < 24; h++) this.hours[h] = (this.hours[h] ?? 0) * k;
      this.hoursTotal *= k;
    }
    const h = utcHour(now);
    this.hours[h] = (this.hours[h] ?? 0) + 1;
    this.hoursTotal += 1;
  }

  private observeTokens(tokens: number, now: number): void {
    const hour = Math.floor(now / HOUR_MS);
    if (hour > this.tokenHour) {
      if (this.tokenHour >= 0) this.foldHour(this.tokensThisHour);
      this.tokensPrevHour = hour === this.tokenHour + 1 ? this.tokensThisHour : 0;
      this.tokensThisHour = 0;
      this.tokenHour = hour;
    }
    // An entry from an earlier hour (clock skew) is counted in the current one.
    this.tokensThisHour += tokens > 0 ? tokens : 0;
  }

  private foldHour(tokens: number): void {
    if (Number.isNaN(this.tokenEwma)) {
      this.tokenEwma = tokens;
      return;
    }
    const alpha = 1 - 2 ** (-1 / this.rules.tokenHalfLifeHours);
    this.tokenEwma += alpha * (tokens - this.tokenEwma);
  }
}

/** All principals' baselines; past `rules.maxPrincipals` the least recently seen half is forgotten. */
export class Baselines {
  readonly rules: AnomalyRules;
  private readonly byPrincipal: BoundedMap<PrincipalBaseline>;

  constructor(rules: Partial<AnomalyRules> = {}) {
    this.rules = anomalyRules(rules);
    this.byPrincipal = new BoundedMap(this.rules.maxPrincipals);
  }

  get size(): number {
    return this.byPrincipal.size;
  }

  /** The principal's baseline without marking it as recently seen. */
  peek(principalId: string): PrincipalBaseline | undefined {
    return this.byPrincipal.peek(principalId);
  }

  /** Adds one request of the principal, creating its baseline on first sight. */
  observe(principalId: string, obs: Observation, now: number): PrincipalBaseline {
    let baseline = this.byPrincipal.get(principalId);
    if (baseline === undefined) {
      baseline = new PrincipalBaseline(now, this.rules);
      this.byPrincipal.set(principalId, baseline);
    }
    baseline.observe(obs, now);
    return baseline;
  }
}

function utcHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) % 24;
}
