/**
 * Signals: what one audited request says about its principal. `deriveSignals` reads the audit
 * entry's finding counts and recorded decision input once (O(findings)), compares the request with
 * the principal's baseline, and only then adds the request to that baseline.
 *
 * Entries without a principal (failed authentication, control-plane entries) produce no signals
 * at all: every signal is about a principal, and anonymous traffic is the authenticator's concern.
 */
import type { WatchEvent } from '../core/index.js';
import { ANOMALY_TYPES, isBurst, isRare, isTokenBurn, type AnomalyType } from './anomaly.js';
import type { Baselines, PrincipalBaseline } from './baseline.js';
import { DEFAULT_SIGNAL_WEIGHTS, type SignalWeights } from './risk.js';

export const SIGNAL_TYPES = [
  'denial',
  'injection',
  'pii',
  'secret',
  'canary_leak',
  ...ANOMALY_TYPES,
] as const;
export type SignalType = (typeof SIGNAL_TYPES)[number];

export interface SignalSubject {
  readonly principalId: string;
  readonly deviceId?: string;
  readonly sessionId?: string;
  readonly workspace?: string;
}

export interface Signal {
  readonly type: SignalType;
  readonly subject: SignalSubject;
  /** Risk contribution, 0..100 (risk.ts SignalWeights). */
  readonly weight: number;
  /** Milliseconds since the epoch: the `now` the event was processed at. */
  readonly time: number;
  readonly requestId: string;
  /** A short explanation (finding types, a score, a rate); never request content. */
  readonly detail?: string;
  /** The model runtime that served the request, for `disable_runtime: { runtime: triggering }`. */
  readonly upstream?: string;
}

/** Finding types with a prompt-injection score (the same set policy uses). */
export const INJECTION_FINDING_TYPES: ReadonlySet<string> = new Set(['PROMPT_INJECTION', 'JAILBREAK']);
/** The output scanner's finding when an answer repeats the system-prompt canary (guard/transform.ts). */
export const CANARY_FINDING_TYPE = 'SYSTEM_PROMPT_CANARY';
/** Secret types: the secret recognizer's `SECRET` (guard/secrets) and the names policy treats alike. */
export const SECRET_FINDING_TYPES: ReadonlySet<string> = new Set([
  'SECRET',
  'API_KEY',
  'PRIVATE_KEY',
  'PASSWORD',
]);
/** Findings that are neither secrets nor personal data (a refused tool call, guard/tool-calls.ts). */
export const NON_PII_FINDING_TYPES: ReadonlySet<string> = new Set(['TOOL_CALL_REFUSED']);
/** Error codes of requests that policy refused. */
export const DENIAL_ERROR_CODES: ReadonlySet<string> = new Set(['policy_denied', 'route_not_permitted']);

export type FindingClass = 'injection' | 'canary' | 'secret' | 'pii' | 'other';

function isSecretDetector(detector: string | undefined): boolean {
  return detector === 'secret' || detector === 'secrets' || detector === 'output:secret';
}

function isInjectionDetector(detector: string | undefined): boolean {
  return detector === 'injection';
}

/** What kind of finding a finding type (and, when known, its detector) is. */
export function classifyFinding(type: string, detector?: string): FindingClass {
  if (INJECTION_FINDING_TYPES.has(type) || isInjectionDetector(detector)) return 'injection';
  if (type === CANARY_FINDING_TYPE) return 'canary';
  if (SECRET_FINDING_TYPES.has(type) || isSecretDetector(detector)) return 'secret';
  if (NON_PII_FINDING_TYPES.has(type) || detector === 'policy') return 'other';
  return 'pii';
}

const NO_SIGNALS: readonly Signal[] = Object.freeze([]);

/**
 * The signals of one event, then the event is added to the principal's baseline. `now` is the
 * processing time in ms (entry.time is not parsed: the listener runs within moments of the request,
 * and one clock keeps baselines monotonic).
 */
/** The least injection score (0..1) that is an `injection` signal. */
export const INJECTION_SIGNAL_MIN_SCORE = 0.5;

export function deriveSignals(
  event: WatchEvent,
  baselines: Baselines,
  now: number,
  weights: SignalWeights = DEFAULT_SIGNAL_WEIGHTS,
): readonly Signal[] {
  const e = event.entry;
  const principalId = e.principalId;
  if (!principalId) return NO_SIGNALS;
  const workspace = e.workspace ?? e.decisionInput?.workspace;
  const subject: SignalSubject = {
    principalId,
    ...(e.deviceId ? { deviceId: e.deviceId } : {}),
    ...(e.sessionId ? { sessionId: e.sessionId } : {}),
    ...(workspace ? { workspace } : {}),
  };
  const upstream = e.runtimeId ?? e.upstreamId ?? undefined;
  const out: Signal[] = [];
  const emit = (type: SignalType, weight: number, detail?: string): void => {
    out.push({
      type,
      subject,
      weight: Math.min(100, Math.max(0, weight)),
      time: now,
      requestId: e.requestId,
      ...(detail !== undefined ? { detail } : {}),
      ...(upstream ? { upstream } : {}),
    });
  };

  // Scores and detectors are only in the recorded decision input; the counts cover the answer too.
  let injectionScore = -1;
  let jailbreak = false;
  let secretsByDetector: Set<string> | undefined;
  for (const f of e.decisionInput?.findings ?? []) {
    const kind = classifyFinding(f.type, f.detector);
    if (kind === 'injection') {
      const score = Number.isFinite(f.score) ? Math.min(1, Math.max(0, f.score as number)) : 1;
      injectionScore = Math.max(injectionScore, score);
      if (f.type === 'JAILBREAK') jailbreak = true;
    } else if (kind === 'secret' && !SECRET_FINDING_TYPES.has(f.type)) {
      (secretsByDetector ??= new Set()).add(f.type);
    }
  }

  let secrets = 0;
  let canaries = 0;
  let piiTypes: string | undefined;
  for (const type in e.findings) {
    const count = e.findings[type] ?? 0;
    if (!(count > 0)) continue;
    const kind = secretsByDetector?.has(type) ? 'secret' : classifyFinding(type);
    if (kind === 'injection') {
      if (injectionScore < 0) injectionScore = 1;
      if (type === 'JAILBREAK') jailbreak = true;
    } else if (kind === 'canary') canaries += count;
    else if (kind === 'secret') secrets += count;
    else if (kind === 'pii') piiTypes = piiTypes === undefined ? type : `${piiTypes},${type}`;
  }

  if (e.decision === 'deny' || (e.errorCode !== null && DENIAL_ERROR_CODES.has(e.errorCode))) {
    emit('denial', weights.denial, e.errorCode ?? 'deny');
  }
  // The detector flags at a recall-oriented threshold (short greetings can score ~0.3); only a
  // confident detection is a signal, or ordinary chatting would add up to risk.
  if (injectionScore >= INJECTION_SIGNAL_MIN_SCORE) {
    const base = jailbreak ? weights.jailbreak : weights.injection;
    emit(
      'injection',
      base * injectionScore,
      `${jailbreak ? 'jailbreak' : 'injection'} score ${injectionScore.toFixed(2)}`,
    );
  }
  if (canaries > 0 || e.errorCode === 'canary_leak')
    emit('canary_leak', weights.canary_leak, e.errorCode ?? undefined);
  if (secrets > 0) emit('secret', weights.secret, `${secrets} secret(s)`);
  if (piiTypes !== undefined) emit('pii', weights.pii, piiTypes);

  const tokens = (e.promptTokens ?? 0) + (e.completionTokens ?? 0);
  const baseline = baselines.peek(principalId);
  if (baseline !== undefined)
    anomalies(baseline, e.deviceId, e.modelId, e.dataClass, tokens, now, weights, emit);
  baselines.observe(
    principalId,
    { deviceId: e.deviceId, modelId: e.modelId, dataClass: e.dataClass, tokens },
    now,
  );
  return out;
}

function anomalies(
  b: PrincipalBaseline,
  deviceId: string | null | undefined,
  modelId: string | null,
  dataClass: string | null | undefined,
  tokens: number,
  now: number,
  weights: SignalWeights,
  emit: (type: SignalType, weight: number, detail?: string) => void,
): void {
  const rules = b.rules;
  const fire = (type: AnomalyType, detail: string): void => {
    b.markAnomaly(type, now);
    emit(type, weights[type], detail);
  };
  const rate = b.ratesPerMinute(now, 1);
  if (isBurst(rate.short, rate.long, rules) && b.mayRepeat('burst', now)) {
    fire('burst', `${rate.short.toFixed(0)}/min vs ${rate.long.toFixed(1)}/min`);
  }
  if (!b.isWarm(now)) return;
  if (deviceId && !b.devices.has(deviceId)) fire('new_device', deviceId);
  if (b.hourShare(now) < rules.unusualHourShare && b.mayRepeat('unusual_hour', now)) {
    fire('unusual_hour', `UTC hour ${Math.floor(now / 3_600_000) % 24}`);
  }
  const typical = b.tokensPerActiveHour();
  const lastHour = b.lastHourTokens(now, tokens);
  if (!Number.isNaN(typical) && isTokenBurn(lastHour, typical, rules) && b.mayRepeat('token_burn', now)) {
    fire('token_burn', `${Math.round(lastHour)} tokens in the last hour vs ${Math.round(typical)}`);
  }
  if (
    modelId &&
    isRare(b.models.count(modelId), b.models.total, rules.rareShare) &&
    b.mayRepeat('unusual_model', now)
  ) {
    fire('unusual_model', modelId);
  }
  if (
    dataClass &&
    isRare(b.dataClasses.count(dataClass), b.dataClasses.total, rules.rareShare) &&
    b.mayRepeat('unusual_data_class', now)
  ) {
    fire('unusual_data_class', dataClass);
  }
}
