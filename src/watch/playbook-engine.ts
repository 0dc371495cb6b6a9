/**
 * Evaluates playbooks over the stream of signals. Pure bookkeeping: it returns the triggers and
 * runs no action itself (the gateway does). Deterministic given `now`; memory is bounded per
 * playbook (least recently signalled subjects are forgotten first, cooldown included).
 *
 * Feed it each signal after the signal was added to the risk scores, so that `risk.above` sees the
 * score this signal produced.
 */
import type { Playbook, PlaybookAction, SubjectKind } from './playbook-schema.js';
import { riskKey, type RiskScores } from './risk.js';
import type { Signal } from './signals.js';
import { BoundedMap, RecentEvents } from './window-counter.js';

export interface Trigger {
  readonly playbookId: string;
  readonly subject: { readonly kind: SubjectKind; readonly id: string };
  readonly actions: readonly PlaybookAction[];
  /** Request ids of the counted signals in the window, oldest first (at most `maxEvidence`). */
  readonly evidence: readonly string[];
  readonly reason: string;
  /** The request whose signal set the playbook off. */
  readonly requestId: string;
  /** Its model runtime, which `disable_runtime: { runtime: triggering }` means. */
  readonly upstream?: string;
}

export interface PlaybookEngineOptions {
  /** Subjects tracked per playbook (default 10,000; past it the least recently signalled half is forgotten). */
  readonly maxSubjectsPerPlaybook: number;
  /** Evidence request ids per trigger (default 50). */
  readonly maxEvidence: number;
  /** How recent an `anomaly` must be when the playbook has no `count.within` (default 1 h). */
  readonly anomalyWindowMs: number;
}

export const DEFAULT_PLAYBOOK_ENGINE_OPTIONS: PlaybookEngineOptions = Object.freeze({
  maxSubjectsPerPlaybook: 10_000,
  maxEvidence: 50,
  anomalyWindowMs: 3_600_000,
});

interface SubjectState {
  readonly recent: RecentEvents;
  lastFired: number;
  lastAnomaly: number;
}

interface Tracked {
  readonly playbook: Playbook;
  readonly subjects: BoundedMap<SubjectState>;
  readonly capacity: number;
}

export class PlaybookEngine {
  readonly options: PlaybookEngineOptions;
  private readonly risk: RiskScores;
  private readonly tracked: readonly Tracked[];

  constructor(
    playbooks: readonly Playbook[],
    deps: { readonly risk: RiskScores },
    options: Partial<PlaybookEngineOptions> = {},
  ) {
    this.options = Object.freeze({ ...DEFAULT_PLAYBOOK_ENGINE_OPTIONS, ...options });
    this.risk = deps.risk;
    this.tracked = playbooks.map((playbook) => ({
      playbook,
      subjects: new BoundedMap<SubjectState>(this.options.maxSubjectsPerPlaybook),
      capacity: Math.max(playbook.when.count?.atLeast ?? 1, this.options.maxEvidence, 1),
    }));
  }

  /** Subjects tracked by each playbook, by id (for tests and metrics). */
  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.tracked) out[t.playbook.id] = t.subjects.size;
    return out;
  }

  /** The playbooks this signal sets off, in document order. */
  onSignal(signal: Signal, now: number): Trigger[] {
    const triggers: Trigger[] = [];
    for (const t of this.tracked) {
      const trigger = this.evaluate(t, signal, now);
      if (trigger !== undefined) triggers.push(trigger);
    }
    return triggers;
  }

  private evaluate(t: Tracked, signal: Signal, now: number): Trigger | undefined {
    const { playbook } = t;
    const when = playbook.when;
    const matches = when.signals === undefined || when.signals.has(signal.type);
    const isAnomaly = when.anomaly === signal.type;
    if (!matches && !isAnomaly) return undefined;
    const id = subjectId(signal, playbook.subject);
    if (id === undefined) return undefined;

    const state = this.state(t, id);
    if (isAnomaly) state.lastAnomaly = now;
    if (!matches) return undefined;
    state.recent.push(now, signal.requestId);

    const windowStart = when.count ? now - when.count.withinMs : -Infinity;
    if (when.count && !state.recent.atLeastSince(when.count.atLeast, windowStart)) return undefined;
    let risk: number | undefined;
    if (when.riskAbove !== undefined) {
      risk = this.risk.score(subjectRiskKey(playbook.subject, id), now);
      if (!(risk > when.riskAbove)) return undefined;
    }
    if (when.anomaly !== undefined) {
      const within = when.count?.withinMs ?? this.options.anomalyWindowMs;
      if (now - state.lastAnomaly > within) return undefined;
    }
    if (now - state.lastFired < playbook.cooldownMs) return undefined;
    state.lastFired = now;

    return {
      playbookId: playbook.id,
      subject: { kind: playbook.subject, id },
      actions: playbook.actions,
      evidence: state.recent.idsSince(windowStart, this.options.maxEvidence),
      reason: reasonOf(playbook, signal, state, windowStart, risk),
      requestId: signal.requestId,
      ...(signal.upstream !== undefined ? { upstream: signal.upstream } : {}),
    };
  }

  private state(t: Tracked, id: string): SubjectState {
    let state = t.subjects.get(id);
    if (state === undefined) {
      state = { recent: new RecentEvents(t.capacity), lastFired: -Infinity, lastAnomaly: -Infinity };
      t.subjects.set(id, state);
    }
    return state;
  }
}

function subjectId(signal: Signal, kind: SubjectKind): string | undefined {
  const s = signal.subject;
  switch (kind) {
    case 'principal':
      return s.principalId;
    case 'device':
      return s.deviceId;
    case 'session':
      return s.sessionId;
    case 'workspace':
      return s.workspace;
  }
}

function subjectRiskKey(kind: SubjectKind, id: string): string {
  return riskKey[kind](id);
}

function reasonOf(
  playbook: Playbook,
  signal: Signal,
  state: SubjectState,
  windowStart: number,
  risk: number | undefined,
): string {
  const parts = [`${signal.type} signal for ${playbook.subject} ${subjectId(signal, playbook.subject)}`];
  const count = playbook.when.count;
  if (count) {
    parts.push(`${state.recent.countSince(windowStart)} matching signal(s) within ${count.withinMs / 1000}s`);
  }
  if (risk !== undefined) parts.push(`risk ${risk.toFixed(1)} > ${playbook.when.riskAbove}`);
  if (playbook.when.anomaly) parts.push(`recent ${playbook.when.anomaly}`);
  return parts.join('; ');
}
