// The whole listener path: audit entries → deriveSignals → RiskScores → PlaybookEngine.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEntry, WatchEvent } from '../../../src/core/index.js';
import { DEFAULT_ANOMALY_RULES } from '../../../src/watch/anomaly.js';
import { Baselines } from '../../../src/watch/baseline.js';
import {
  DEFAULT_PLAYBOOK_ENGINE_OPTIONS,
  PlaybookEngine,
  type Trigger,
} from '../../../src/watch/playbook-engine.js';
import { parsePlaybooks } from '../../../src/watch/playbook-schema.js';
import { DEFAULT_RISK_OPTIONS, riskKey, RiskScores } from '../../../src/watch/risk.js';
import { deriveSignals } from '../../../src/watch/signals.js';

const T0 = Date.UTC(2026, 0, 5, 10);

const PLAYBOOKS = `
playbooks:
  - id: injection-attacker
    description: Quarantine an account that keeps trying prompt injection
    when:
      signal: injection
      count: { atLeast: 5, within: 10m }
      risk: { above: 70 }
    subject: principal
    cooldown: 15m
    then:
      - quarantine: {}
      - revoke: [sessions, tokens, api_keys]
  - id: canary-leak
    when: { signal: canary_leak }
    subject: workspace
    then:
      - quarantine: {}
      - rotate_key: { key: upstream-openai }
`;

function event(requestId: string, fields: Partial<AuditEntry>, workspace?: string): WatchEvent {
  const entry = {
    requestId,
    time: new Date(T0).toISOString(),
    phase: 'release',
    action: 'chat',
    principalId: 'mallory',
    modelId: 'gpt-a',
    upstreamId: 'openai',
    decision: 'allow',
    findings: {},
    errorCode: null,
    promptTokens: 50,
    completionTokens: 50,
    dataClass: 'internal',
    deviceId: 'dev-m',
    sessionId: 'sess-m',
    ...fields,
    ...(workspace
      ? {
          decisionInput: {
            version: 1,
            action: 'chat',
            resource: { type: 'Model', id: 'gpt-a' },
            findings: [],
            dataClass: 'internal',
            risk: 0,
            networkZone: 'corp',
            residency: 'eu',
            time: { hour: 10, weekday: 'Mon' },
            workspace,
          },
        }
      : {}),
  } as unknown as AuditEntry;
  return { kind: fields.decision === 'deny' ? 'request.refused' : 'request.completed', entry };
}

function pipeline() {
  const baselines = new Baselines();
  const risk = new RiskScores();
  const engine = new PlaybookEngine(parsePlaybooks(PLAYBOOKS), { risk });
  const handle = (e: WatchEvent, now: number): Trigger[] => {
    const triggers: Trigger[] = [];
    for (const s of deriveSignals(e, baselines, now)) {
      risk.addSignal(s, now);
      triggers.push(...engine.onSignal(s, now));
    }
    return triggers;
  };
  return { baselines, risk, engine, handle };
}

describe('watch scenarios', () => {
  it('scripted attack: 20 injections (score 0.9) in 2 minutes → risk > 70 → one quarantine', () => {
    const { risk, handle } = pipeline();
    const injection = (i: number): WatchEvent => {
      const e = event(`atk-${i}`, { findings: { PROMPT_INJECTION: 1 } });
      const decisionInput = {
        version: 1,
        action: 'chat',
        resource: { type: 'Model', id: 'gpt-a' },
        findings: [{ type: 'PROMPT_INJECTION', detector: 'injection', score: 0.9 }],
        dataClass: 'internal',
        risk: 0,
        networkZone: 'corp',
        residency: 'eu',
        time: { hour: 10, weekday: 'Mon' },
      };
      return { kind: e.kind, entry: { ...e.entry, decisionInput } };
    };
    const fired: { i: number; trigger: Trigger }[] = [];
    const scores: number[] = [];
    for (let i = 1; i <= 20; i++) {
      const now = T0 + i * 6000;
      for (const trigger of handle(injection(i), now)) fired.push({ i, trigger });
      scores.push(risk.score(riskKey.principal('mallory'), now));
    }
    assert.ok((scores[3] ?? 100) < 70, `after 4: ${scores[3]}`);
    assert.ok((scores[4] ?? 0) > 70, `after 5: ${scores[4]}`);
    assert.ok((scores[19] ?? 0) > 95);
    assert.equal(fired.length, 1, 'exactly once: the cooldown holds the rest');
    const [{ i, trigger }] = fired as [{ i: number; trigger: Trigger }];
    assert.equal(i, 5);
    assert.equal(trigger.playbookId, 'injection-attacker');
    assert.deepEqual(trigger.subject, { kind: 'principal', id: 'mallory' });
    assert.deepEqual(trigger.evidence, ['atk-1', 'atk-2', 'atk-3', 'atk-4', 'atk-5']);
    assert.deepEqual(trigger.actions, [
      { kind: 'quarantine' },
      { kind: 'revoke', what: ['sessions', 'tokens', 'api_keys'] },
    ]);
    assert.ok(risk.forSubject({ principalId: 'mallory', deviceId: 'dev-m' }, T0 + 120_000) > 70);
  });

  it('a canary leak quarantines the workspace and rotates the key', () => {
    const { handle } = pipeline();
    const leak = event(
      'leak-1',
      {
        findings: { SYSTEM_PROMPT_CANARY: 1 },
        errorCode: 'output_blocked',
        status: 502,
      } as Partial<AuditEntry>,
      'finance',
    );
    const triggers = handle(leak, T0);
    assert.equal(triggers.length, 1);
    assert.equal(triggers[0]?.playbookId, 'canary-leak');
    assert.deepEqual(triggers[0]?.subject, { kind: 'workspace', id: 'finance' });
    assert.deepEqual(triggers[0]?.actions, [
      { kind: 'quarantine' },
      { kind: 'rotate_key', key: 'upstream-openai' },
    ]);
    assert.deepEqual(triggers[0]?.evidence, ['leak-1']);
    assert.deepEqual(handle(event('ok-1', {}, 'finance'), T0 + 1000), []);
  });

  it('memory bounds: 100k distinct principals keep every map under its cap', () => {
    const { baselines, risk, engine, handle } = pipeline();
    for (let i = 0; i < 100_000; i++) {
      const e = event(
        `m-${i}`,
        {
          principalId: `user-${i}`,
          deviceId: `dev-${i}`,
          sessionId: `s-${i}`,
          findings: { PROMPT_INJECTION: 1 },
        },
        `ws-${i % 100}`,
      );
      handle(e, T0 + i);
    }
    assert.ok(baselines.size <= DEFAULT_ANOMALY_RULES.maxPrincipals);
    assert.ok(baselines.size >= DEFAULT_ANOMALY_RULES.maxPrincipals / 2);
    assert.ok(risk.size <= DEFAULT_RISK_OPTIONS.maxKeys);
    for (const size of Object.values(engine.sizes())) {
      assert.ok(size <= DEFAULT_PLAYBOOK_ENGINE_OPTIONS.maxSubjectsPerPlaybook);
    }
    assert.ok(
      (engine.sizes()['injection-attacker'] ?? 0) >=
        DEFAULT_PLAYBOOK_ENGINE_OPTIONS.maxSubjectsPerPlaybook / 2,
    );
  });
});
