import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEntry, RecordedDecisionInput, WatchEvent } from '../../../src/core/index.js';
import { Baselines } from '../../../src/watch/baseline.js';
import { classifyFinding, deriveSignals, type Signal } from '../../../src/watch/signals.js';

const HOUR = 3_600_000;
/** Monday 5 January 2026, 10:00 UTC. */
const T0 = Date.UTC(2026, 0, 5, 10);

type Finding = RecordedDecisionInput['findings'][number];
interface EntryOptions extends Partial<Omit<AuditEntry, 'decisionInput'>> {
  diFindings?: Finding[];
  workspace?: string;
}

let seq = 0;
function event(o: EntryOptions = {}, kind: WatchEvent['kind'] = 'request.completed'): WatchEvent {
  const { diFindings, workspace, ...fields } = o;
  const entry: AuditEntry = {
    requestId: `req-${++seq}`,
    time: new Date(T0).toISOString(),
    phase: 'release',
    action: 'chat',
    principalId: 'alice',
    authMethod: 'oidc',
    modelId: 'gpt-a',
    upstreamId: 'openai',
    decision: 'allow',
    determiningPolicies: [],
    obligations: [],
    bundleDigest: null,
    findings: {},
    transformations: [],
    status: 200,
    errorCode: null,
    stream: false,
    promptTokens: 100,
    completionTokens: 100,
    latencyMs: 5,
    promptSha256: null,
    answerSha256: null,
    dataClass: 'internal',
    deviceId: 'laptop-1',
    sessionId: 'sess-1',
    ...fields,
    ...(diFindings || workspace
      ? {
          decisionInput: {
            version: 1,
            action: 'chat',
            resource: { type: 'Model', id: 'gpt-a' },
            findings: diFindings ?? [],
            dataClass: 'internal',
            risk: 0,
            networkZone: 'corp',
            residency: 'eu',
            time: { hour: 10, weekday: 'Mon' },
            ...(workspace ? { workspace } : {}),
          },
        }
      : {}),
  };
  return { kind, entry };
}

const types = (signals: readonly Signal[]): string[] => signals.map((s) => s.type).sort();
const RULES = { warmupEvents: 10, warmupMs: 10 * 60_000 };

/** `n` ordinary requests from `principalId`, one per `stepMs` from `start`, all at 10:xx UTC. */
function warm(b: Baselines, n = 20, start = T0, stepMs = 60_000, o: EntryOptions = {}): number {
  let t = start;
  for (let i = 0; i < n; i++) {
    deriveSignals(event(o), b, t);
    t += stepMs;
  }
  return t;
}

describe('deriveSignals: findings and decisions', () => {
  it('an entry without a principal gives no signal and no baseline', () => {
    const b = new Baselines();
    const out = deriveSignals(
      event({ principalId: null, decision: 'deny', findings: { PROMPT_INJECTION: 1 } }, 'request.refused'),
      b,
      T0,
    );
    assert.deepEqual(out, []);
    assert.equal(b.size, 0);
  });

  it('denial: a deny decision or a policy refusal, not an upstream failure', () => {
    const b = new Baselines();
    assert.deepEqual(types(deriveSignals(event({ decision: 'deny', errorCode: 'policy_denied' }), b, T0)), [
      'denial',
    ]);
    assert.deepEqual(
      types(deriveSignals(event({ decision: null, errorCode: 'route_not_permitted' }), b, T0)),
      ['denial'],
    );
    assert.deepEqual(types(deriveSignals(event({ errorCode: 'upstream_error', status: 502 }), b, T0)), []);
    assert.deepEqual(types(deriveSignals(event(), b, T0)), []);
  });

  it('injection: weighted by the highest score; jailbreak weighs more; counts alone mean score 1', () => {
    const b = new Baselines();
    const [inj] = deriveSignals(
      event({
        findings: { PROMPT_INJECTION: 2 },
        diFindings: [
          { type: 'PROMPT_INJECTION', detector: 'injection', score: 0.9 },
          { type: 'PROMPT_INJECTION', detector: 'injection', score: 0.6 },
        ],
      }),
      b,
      T0,
    );
    assert.equal(inj?.type, 'injection');
    assert.ok(Math.abs((inj?.weight ?? 0) - 13.5) < 1e-9);
    const [jb] = deriveSignals(
      event({
        findings: { JAILBREAK: 1 },
        diFindings: [{ type: 'JAILBREAK', detector: 'injection', score: 0.5 }],
      }),
      b,
      T0,
    );
    assert.equal(jb?.weight, 10);
    const [countsOnly] = deriveSignals(event({ findings: { PROMPT_INJECTION: 1 } }), b, T0);
    assert.equal(countsOnly?.weight, 15);
    assert.deepEqual(types(deriveSignals(event({ findings: { EMAIL_ADDRESS: 1 } }), b, T0)), ['pii']);
  });

  it('canary leak: the canary finding or the canary_leak error, not any blocked answer', () => {
    const b = new Baselines();
    const blocked = deriveSignals(
      event({ findings: { SYSTEM_PROMPT_CANARY: 1 }, errorCode: 'output_blocked', status: 502 }),
      b,
      T0,
    );
    assert.deepEqual(types(blocked), ['canary_leak']);
    assert.equal(blocked[0]?.weight, 60);
    assert.deepEqual(types(deriveSignals(event({ errorCode: 'canary_leak' }), b, T0)), ['canary_leak']);
    assert.deepEqual(
      types(deriveSignals(event({ findings: { US_SSN: 1 }, errorCode: 'output_blocked' }), b, T0)),
      ['pii'],
    );
  });

  it('secrets by type or by detector; PII otherwise; refused tool calls are neither', () => {
    const b = new Baselines();
    const secret = deriveSignals(event({ findings: { SECRET: 2 } }), b, T0);
    assert.deepEqual(types(secret), ['secret']);
    assert.equal(secret[0]?.detail, '2 secret(s)');
    const byDetector = deriveSignals(
      event({
        findings: { VAULT_TOKEN: 1 },
        diFindings: [{ type: 'VAULT_TOKEN', detector: 'secret', score: 0.9 }],
      }),
      b,
      T0,
    );
    assert.deepEqual(types(byDetector), ['secret']);
    const pii = deriveSignals(event({ findings: { EMAIL_ADDRESS: 2, PERSON: 1, SECRET: 0 } }), b, T0);
    assert.deepEqual(types(pii), ['pii']);
    assert.equal(pii[0]?.detail, 'EMAIL_ADDRESS,PERSON');
    assert.deepEqual(types(deriveSignals(event({ findings: { TOOL_CALL_REFUSED: 1 } }), b, T0)), []);
    assert.equal(classifyFinding('API_KEY'), 'secret');
    assert.equal(classifyFinding('LOCATION', 'ner'), 'pii');
  });

  it('carries the subject, request id, time and upstream', () => {
    const b = new Baselines();
    const e = event({ findings: { SECRET: 1 }, workspace: 'finance', runtimeId: 'local-vllm' });
    const [s] = deriveSignals(e, b, T0 + 5);
    assert.deepEqual(s?.subject, {
      principalId: 'alice',
      deviceId: 'laptop-1',
      sessionId: 'sess-1',
      workspace: 'finance',
    });
    assert.equal(s?.requestId, e.entry.requestId);
    assert.equal(s?.time, T0 + 5);
    assert.equal(s?.upstream, 'local-vllm');
  });
});

describe('deriveSignals: anomalies against the baseline', () => {
  it('new_device: silent during warm-up (events and time), then once per device', () => {
    const b = new Baselines(RULES);
    // Warm-up by count alone is not enough: 20 events within 20 s.
    let t = warm(b, 20, T0, 1000);
    assert.deepEqual(types(deriveSignals(event({ deviceId: 'phone-1' }), b, t)), []);
    t = warm(b, 5, T0 + 11 * 60_000, 60_000);
    assert.deepEqual(types(deriveSignals(event({ deviceId: 'tablet-1' }), b, t)), ['new_device']);
    assert.deepEqual(types(deriveSignals(event({ deviceId: 'tablet-1' }), b, t + 1000)), []);
    assert.deepEqual(types(deriveSignals(event({ deviceId: 'laptop-1' }), b, t + 2000)), []);
  });

  it('a principal that has not warmed up by count is not flagged however old', () => {
    const b = new Baselines(RULES);
    warm(b, 5, T0, 60_000);
    assert.deepEqual(
      types(deriveSignals(event({ deviceId: 'phone-9', modelId: 'other' }), b, T0 + 2 * HOUR)),
      [],
    );
  });

  it('unusual_hour: a request at an hour the principal never works, at most once per repeat interval', () => {
    const b = new Baselines(RULES);
    const t = warm(b, 30, T0, 60_000);
    assert.deepEqual(types(deriveSignals(event(), b, t)), [], 'the usual hour');
    const night = Date.UTC(2026, 0, 6, 3, 55);
    assert.deepEqual(types(deriveSignals(event(), b, night)), ['unusual_hour']);
    assert.deepEqual(types(deriveSignals(event(), b, night + 6 * 60_000)), [], 'repeat suppressed (04:01)');
    const fiveAm = Date.UTC(2026, 0, 6, 5);
    assert.deepEqual(types(deriveSignals(event(), b, fiveAm)), ['unusual_hour']);
    const later = types(deriveSignals(event(), b, fiveAm + 11 * 60_000));
    assert.deepEqual(later, [], 'the hour is no longer unusual once it is in the profile');
  });

  it('burst: many requests within a minute against a calm history, not a steady high rate', () => {
    const b = new Baselines(RULES);
    let t = warm(b, 30, T0, 60_000);
    const bursts: number[] = [];
    for (let i = 0; i < 80; i++) {
      const out = deriveSignals(event(), b, t);
      if (out.some((s) => s.type === 'burst')) bursts.push(i);
      t += 500;
    }
    assert.equal(bursts.length, 1, 'one burst signal per episode');
    assert.ok((bursts[0] ?? 0) > 20, 'not before the absolute floor is passed');

    const steady = new Baselines(RULES);
    let u = T0;
    let any = 0;
    for (let i = 0; i < 200; i++) {
      if (deriveSignals(event(), steady, u).some((s) => s.type === 'burst')) any++;
      u += 20_000; // 3 per minute
    }
    assert.equal(any, 0);
  });

  it('token_burn: an hour far above the typical active hour and above the floor', () => {
    const b = new Baselines(RULES);
    // Three active hours of about 2,000 tokens each (10 requests of 200).
    let t = T0;
    for (let h = 0; h < 3; h++) {
      for (let i = 0; i < 10; i++) deriveSignals(event(), b, T0 + h * HOUR + i * 60_000);
      t = T0 + (h + 1) * HOUR;
    }
    const burn = (signals: readonly Signal[]): Signal | undefined =>
      signals.find((s) => s.type === 'token_burn');
    assert.equal(burn(deriveSignals(event({ promptTokens: 5_000, completionTokens: 0 }), b, t)), undefined);
    const big = burn(
      deriveSignals(event({ promptTokens: 150_000, completionTokens: 100_000 }), b, t + 60_000),
    );
    assert.ok(big);
    assert.match(big.detail ?? '', /^256967 tokens in the last hour vs 2000$/);
  });

  it('token_burn stays silent before any active hour has completed', () => {
    const b = new Baselines({ warmupEvents: 1, warmupMs: 0 });
    deriveSignals(event(), b, T0);
    assert.deepEqual(types(deriveSignals(event({ promptTokens: 900_000 }), b, T0 + 1000)), []);
  });

  it('unusual_model and unusual_data_class: never or rarely seen after warm-up', () => {
    const b = new Baselines(RULES);
    const t = warm(b, 60, T0, 20_000);
    assert.deepEqual(types(deriveSignals(event({ modelId: 'gpt-b' }), b, t)), ['unusual_model']);
    assert.deepEqual(types(deriveSignals(event({ dataClass: 'restricted' }), b, t + 1000)), [
      'unusual_data_class',
    ]);
    assert.deepEqual(types(deriveSignals(event(), b, t + 2000)), []);
  });

  it('the request is added to the baseline after its signals are derived', () => {
    const b = new Baselines(RULES);
    const t = warm(b, 30, T0, 60_000);
    assert.equal(b.peek('alice')?.devices.has('phone-2'), false);
    assert.deepEqual(types(deriveSignals(event({ deviceId: 'phone-2' }), b, t)), ['new_device']);
    assert.equal(b.peek('alice')?.devices.has('phone-2'), true);
    assert.equal(b.peek('alice')?.events, 31);
  });
});
