import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_SIGNAL_WEIGHTS, RiskScores, signalWeights } from '../../../src/watch/risk.js';

const HOUR = 3_600_000;
const close = (a: number, b: number, eps = 1e-9): void => assert.ok(Math.abs(a - b) < eps, `${a} ≈ ${b}`);

describe('RiskScores', () => {
  it('saturates as 100 × (1 − e^(−raw/50)) and halves raw every half-life', () => {
    const r = new RiskScores();
    close(r.add('principal:a', 60, 0), 100 * (1 - Math.exp(-60 / 50)));
    close(r.score('principal:a', HOUR), 100 * (1 - Math.exp(-30 / 50)));
    assert.equal(r.score('principal:unknown', 0), 0);
    assert.equal(r.add('principal:z', 0, 0), 0);
    assert.equal(r.size, 1, 'a zero weight creates no key');
  });

  it('forSubject is the highest of principal, device and session; workspace is kept apart', () => {
    const r = new RiskScores();
    r.addSignal({ subject: { principalId: 'a', deviceId: 'd', workspace: 'w' }, weight: 10 }, 0);
    r.add('device:d', 40, 0);
    r.add('workspace:w', 90, 0);
    close(r.forSubject({ principalId: 'a', deviceId: 'd', sessionId: 's' }, 0), r.score('device:d', 0));
    assert.ok(r.score('workspace:w', 0) > r.forSubject({ principalId: 'a', deviceId: 'd' }, 0));
  });

  it('top(n) lists the highest scores first', () => {
    const r = new RiskScores();
    for (const [k, w] of [
      ['a', 5],
      ['b', 50],
      ['c', 20],
      ['d', 1],
      ['e', 35],
    ] as const)
      r.add(k, w, 0);
    assert.deepEqual(
      r.top(3, 0).map((t) => t.key),
      ['b', 'e', 'c'],
    );
    assert.deepEqual(r.top(0, 0), []);
  });

  it('is bounded: past maxKeys the least recently raised keys go', () => {
    const r = new RiskScores({ maxKeys: 100 });
    for (let i = 0; i < 1000; i++) {
      r.add(`principal:${i}`, 10, i);
      r.add('principal:hot', 1, i);
      assert.ok(r.size <= 100);
    }
    assert.ok(r.score('principal:hot', 1000) > 90, 'a key raised all along stays');
    assert.equal(r.score('principal:0', 1000), 0);
    assert.ok(r.score('principal:999', 1000) > 0);
  });

  it('default weights: canary 60, jailbreak 20, injection 15; overridable', () => {
    assert.equal(DEFAULT_SIGNAL_WEIGHTS.canary_leak, 60);
    assert.equal(DEFAULT_SIGNAL_WEIGHTS.jailbreak, 20);
    assert.equal(signalWeights({ denial: 1 }).denial, 1);
    assert.equal(signalWeights({ denial: 1 }).injection, 15);
  });

  it('property: scores stay in [0, 100] and never fall when a signal is added', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            key: fc.constantFrom('principal:a', 'device:b', 'session:c'),
            weight: fc.oneof(fc.double({ min: -10, max: 1e6, noNaN: true }), fc.constant(Number.NaN)),
            dt: fc.integer({ min: 0, max: 10 * HOUR }),
          }),
          { maxLength: 60 },
        ),
        (ops) => {
          const r = new RiskScores();
          let now = 0;
          for (const op of ops) {
            now += op.dt;
            const before = r.score(op.key, now);
            const after = r.add(op.key, op.weight, now);
            assert.ok(after >= 0 && after <= 100, `score ${after}`);
            assert.ok(after >= before - 1e-9);
          }
        },
      ),
    );
  });

  it('property: without new signals every score decays monotonically towards 0', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 500, noNaN: true }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 2 * HOUR }), { minLength: 1, maxLength: 30 }),
        (weights, steps) => {
          const r = new RiskScores();
          weights.forEach((w, i) => r.add('principal:p', w, i));
          let now = weights.length;
          let last = r.score('principal:p', now);
          for (const step of steps) {
            now += step;
            const s = r.score('principal:p', now);
            assert.ok(s >= 0 && s <= 100);
            assert.ok(s <= last + 1e-9, `${s} > ${last}`);
            last = s;
          }
          assert.ok(r.score('principal:p', now + 100 * HOUR) < 1e-6);
        },
      ),
    );
  });
});
