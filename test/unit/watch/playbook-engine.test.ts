import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PlaybookEngine } from '../../../src/watch/playbook-engine.js';
import { parsePlaybooks } from '../../../src/watch/playbook-schema.js';
import { RiskScores } from '../../../src/watch/risk.js';
import type { Signal, SignalType } from '../../../src/watch/signals.js';
import { BoundedMap, RecentEvents } from '../../../src/watch/window-counter.js';

let seq = 0;
const signal = (type: SignalType, time: number, principalId = 'p1', extra: Partial<Signal> = {}): Signal => ({
  type,
  subject: { principalId, deviceId: `dev-${principalId}` },
  weight: 5,
  time,
  requestId: `r${++seq}`,
  ...extra,
});

const engineFor = (yaml: string, risk = new RiskScores(), options = {}): PlaybookEngine =>
  new PlaybookEngine(parsePlaybooks(yaml), { risk }, options);

const COUNT3 = `playbooks:
  - id: denials
    when: { signal: denial, count: { atLeast: 3, within: 1m } }
    subject: principal
    cooldown: 5m
    then: [{ quarantine: {} }]
`;

describe('RecentEvents', () => {
  it('answers "at least n since" from the ring and lists ids oldest first', () => {
    const r = new RecentEvents(4);
    for (let t = 1; t <= 6; t++) r.push(t * 10, `id${t}`);
    assert.equal(r.size, 4);
    assert.equal(r.atLeastSince(3, 40), true);
    assert.equal(r.atLeastSince(4, 40), false);
    assert.equal(r.atLeastSince(5, 0), false, 'more than the ring holds');
    assert.equal(r.countSince(45), 2);
    assert.deepEqual(r.idsSince(0, 3), ['id4', 'id5', 'id6']);
    assert.throws(() => new RecentEvents(0), RangeError);
  });
});

describe('BoundedMap', () => {
  it('never holds more than its capacity and keeps recently used keys', () => {
    const m = new BoundedMap<number>(10);
    for (let i = 0; i < 100; i++) {
      m.set(`k${i}`, i);
      if (m.get('hot') === undefined) m.set('hot', -1);
      assert.ok(m.size <= 10);
    }
    assert.equal(m.peek('hot'), -1);
    assert.equal(m.peek('k0'), undefined);
    assert.equal(m.peek('k99'), 99);
    m.delete('k99');
    assert.equal(m.peek('k99'), undefined);
    assert.equal([...m.entries()].length, m.size);
    assert.throws(() => new BoundedMap(1), RangeError);
  });
});

describe('PlaybookEngine', () => {
  it('fires when the count is reached within the window, then respects the cooldown', () => {
    const engine = engineFor(COUNT3);
    assert.deepEqual(engine.onSignal(signal('denial', 0), 0), []);
    assert.deepEqual(
      engine.onSignal(signal('denial', 70_000), 70_000),
      [],
      'the first fell out of the window',
    );
    assert.deepEqual(engine.onSignal(signal('denial', 80_000), 80_000), []);
    const [t] = engine.onSignal(signal('denial', 90_000), 90_000);
    assert.equal(t?.playbookId, 'denials');
    assert.deepEqual(t?.subject, { kind: 'principal', id: 'p1' });
    assert.deepEqual(t?.actions, [{ kind: 'quarantine' }]);
    assert.equal(t?.evidence.length, 3);
    assert.equal(t?.requestId, t?.evidence[2]);
    assert.match(t?.reason ?? '', /3 matching signal\(s\) within 60s/);
    assert.deepEqual(engine.onSignal(signal('denial', 100_000), 100_000), [], 'cooldown');
    assert.equal(engine.onSignal(signal('denial', 400_000), 400_000).length, 0, 'window emptied meanwhile');
    engine.onSignal(signal('denial', 401_000), 401_000);
    assert.equal(engine.onSignal(signal('denial', 402_000), 402_000).length, 1, 'after the cooldown');
  });

  it('counts per subject and ignores other signal types and subjects without the field', () => {
    const engine = engineFor(COUNT3.replace('subject: principal', 'subject: session'));
    for (let i = 0; i < 5; i++) assert.deepEqual(engine.onSignal(signal('denial', i), i), []);
    const withSession = (p: string, i: number): Signal =>
      signal('denial', i, p, { subject: { principalId: p, sessionId: `s-${p}` } });
    engine.onSignal(withSession('a', 10), 10);
    engine.onSignal(withSession('b', 11), 11);
    engine.onSignal(signal('pii', 12, 'a', { subject: { principalId: 'a', sessionId: 's-a' } }), 12);
    engine.onSignal(withSession('a', 13), 13);
    assert.deepEqual(engine.sizes(), { denials: 2 });
    const [t] = engine.onSignal(withSession('a', 14), 14);
    assert.deepEqual(t?.subject, { kind: 'session', id: 's-a' });
  });

  it('risk.above reads the subject score; anomaly requires a recent anomaly of that type', () => {
    const risk = new RiskScores();
    const engine = engineFor(
      `playbooks:
  - id: risky-burst
    when: { signal: [injection, secret], risk: { above: 50 }, anomaly: burst }
    subject: device
    then: [{ quarantine: {} }, { disable_runtime: { runtime: triggering } }]
`,
      risk,
    );
    risk.add('device:dev-p1', 100, 0);
    assert.deepEqual(engine.onSignal(signal('injection', 0), 0), [], 'no burst yet');
    assert.deepEqual(engine.onSignal(signal('burst', 1000), 1000), [], 'the anomaly alone is not the signal');
    const [t] = engine.onSignal(signal('secret', 2000, 'p1', { upstream: 'local-vllm' }), 2000);
    assert.equal(t?.upstream, 'local-vllm');
    assert.match(t?.reason ?? '', /risk \d+\.\d > 50; recent burst/);
    const calm = engineFor(
      `playbooks:
  - id: risky
    when: { signal: injection, risk: { above: 50 } }
    subject: principal
    then: [{ quarantine: {} }]
`,
      risk,
    );
    assert.deepEqual(calm.onSignal(signal('injection', 3000), 3000), [], 'the principal key has no risk');
    assert.ok(engine.onSignal(signal('burst', 4 * 3_600_000), 4 * 3_600_000).length === 0);
  });

  it('evidence is bounded and memory is capped per playbook', () => {
    const engine = engineFor(COUNT3.replace('atLeast: 3', 'atLeast: 100'), new RiskScores(), {
      maxSubjectsPerPlaybook: 50,
      maxEvidence: 50,
    });
    let trigger;
    for (let i = 0; i < 100; i++) trigger = engine.onSignal(signal('denial', i), i)[0] ?? trigger;
    assert.equal(trigger?.evidence.length, 50);
    for (let i = 0; i < 1000; i++) engine.onSignal(signal('denial', 200 + i, `u${i}`), 200 + i);
    assert.ok((engine.sizes().denials ?? 0) <= 50);
  });
});
