import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSync } from 'recheck';
import { createCustomRecognizers, createPiiRecognizers, PII_PATTERNS } from '../../../src/guard/pii/index.js';

describe('PII patterns are safe from catastrophic backtracking', () => {
  for (const { name, regex } of PII_PATTERNS) {
    it(`${name} is judged safe by recheck`, () => {
      const result = checkSync(regex.source, regex.flags, { timeout: 60_000 });
      assert.equal(result.status, 'safe', `${name}: ${JSON.stringify(result)}`);
    });
  }
});

/** About 1 MB of text built to hurt naive scanners. */
function adversarialInput(): string {
  const parts = [
    '1234567890'.repeat(3_000), // a long digit run
    '@'.repeat(20_000) + 'a@'.repeat(10_000) + 'a.'.repeat(10_000), // '@' storms and dots
    '.'.repeat(20_000),
    '1-'.repeat(10_000) + '1 '.repeat(10_000) + '- '.repeat(10_000), // repeated separators
    '+1 ('.repeat(5_000) + '::'.repeat(10_000) + 'f:'.repeat(10_000),
    'é🙂ÿ中文 '.repeat(5_000), // unicode
    'http://'.repeat(5_000) + 'www.'.repeat(5_000) + 'GB'.repeat(10_000) + 'bc1'.repeat(5_000),
    'call +1 415 555 0132, card 4012 8888 8888 1881, mail a.b@example.com on 2024-03-15. ',
  ];
  let text = '';
  while (text.length < 1_000_000) text += parts.join(' ');
  return text.slice(0, 1_000_000);
}

describe('PII recognizers run in linear time', () => {
  it('scan 1 MB of adversarial text with every built-in recognizer well within bounds', () => {
    const text = adversarialInput();
    const recognizers = createPiiRecognizers();
    // warm the JIT on a tenth of the input so the figure is the steady-state cost
    for (const r of recognizers) r.detect(text.slice(0, 100_000));
    const started = performance.now();
    let found = 0;
    for (const r of recognizers) found += r.detect(text).length;
    const ms = performance.now() - started;
    console.log(
      `pii: 1 MB adversarial input scanned by ${recognizers.length} recognizers in ${ms.toFixed(0)} ms (${found} detections)`,
    );
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it('scans 1 MB through a custom RE2 pattern and a dictionary in linear time', () => {
    const text = adversarialInput();
    const [pattern, dictionary] = createCustomRecognizers({
      patterns: [{ name: 'employee', type: 'EMPLOYEE_ID', regex: '\\bEMP-[0-9]{6}\\b|(a+)+b' }],
      dictionaries: [{ name: 'projects', type: 'PROJECT', terms: ['Blue Falcon', 'aaa', '@@@', 'é🙂'] }],
    });
    assert.ok(pattern && dictionary);
    const started = performance.now();
    const hits = pattern.detect(text).length;
    const ms = performance.now() - started;
    const started2 = performance.now();
    const terms = dictionary.detect(text).length;
    const ms2 = performance.now() - started2;
    console.log(
      `custom: RE2 pattern ${ms.toFixed(0)} ms (${hits}), dictionary ${ms2.toFixed(0)} ms (${terms})`,
    );
    assert.ok(ms < 2000, `RE2 took ${ms} ms`);
    assert.ok(ms2 < 1000, `dictionary took ${ms2} ms`);
  });
});
