// The guard's own patterns (outside the detector families, which have their own checks) are
// safe from catastrophic backtracking.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSync } from 'recheck';
import { PLACEHOLDER, TYPE } from '../../../src/guard/pseudonyms.js';
import { CONVERSATION_ID } from '../../../src/guard/transform.js';

describe('guard patterns', () => {
  for (const [name, re] of Object.entries({ PLACEHOLDER, TYPE, CONVERSATION_ID })) {
    it(`${name} is ReDoS-safe`, () => {
      assert.equal(checkSync(re.source, re.flags).status, 'safe');
    });
  }

  it('restoring placeholders in 1 MB of bracket noise stays linear', async () => {
    const { replaceFindings } = await import('../../../src/guard/pseudonyms.js');
    const { replacementPlan } = await import('../../../src/guard/replacement-plan.js');
    const r = replaceFindings(
      ['Jane'],
      [{ detector: 't', type: 'PERSON', score: 1, location: { message: 0, start: 0, end: 4 } }],
      replacementPlan([
        { kind: 'pseudonymize', value: 'PERSON' },
        { kind: 'reveal', value: 'all' },
      ]),
      { conversation: Buffer.alloc(32, 1), hash: Buffer.alloc(32, 2) },
    );
    const noise = '[PERSON_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1_1'
      .repeat(15_000)
      .slice(0, 1 << 20);
    const started = performance.now();
    r.restorer.restore(noise);
    const s = r.restorer.stream();
    for (let i = 0; i < noise.length; i += 4096) s.push(noise.slice(i, i + 4096));
    s.end();
    const ms = performance.now() - started;
    console.log(`restore of 1 MB bracket noise, whole and streamed: ${ms.toFixed(1)} ms`);
    assert.ok(ms < 1000);
  });
});
