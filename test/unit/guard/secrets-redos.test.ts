import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSync } from 'recheck';
import { createSecretRecognizer, secretRulePatterns } from '../../../src/guard/secrets/index.js';

test('every built-in secret pattern is ReDoS-safe according to recheck', () => {
  const unsafe: string[] = [];
  for (const re of secretRulePatterns()) {
    const flags = re.flags.replace(/[gdy]/g, '');
    const result = checkSync(re.source, flags);
    if (result.status !== 'safe') unsafe.push(`${result.status}: /${re.source}/${flags}`);
  }
  assert.deepEqual(unsafe, []);
});

function adversarialInput(): string {
  const parts: string[] = [];
  const b64 = 'QWxhZGRpbjpvcGVuIHNlc2FtZQ+/'.repeat(4000); // ~112 KB base64 run
  const hex = '0123456789abcdef'.repeat(8000); // 128 KB hex run
  parts.push(b64, ' ', hex, ' ');
  parts.push('='.repeat(120_000), ' ');
  parts.push('key='.repeat(30_000), ' ');
  parts.push('api_key: "'.repeat(10_000), ' ');
  parts.push('-----BEGIN RSA PRIVATE KEY-----\n'.repeat(4000));
  parts.push('eyJ'.repeat(20_000), '.', 'eyJ'.repeat(10_000), ' ');
  parts.push('xoxb-1234567890-'.repeat(5000), ' ');
  parts.push('https://u:'.repeat(8000), ' ');
  parts.push('ghp_'.repeat(10_000), 'AKIA'.repeat(10_000), ' ');
  parts.push('etsy token '.repeat(8000));
  let s = parts.join('');
  while (s.length < 1_048_576) s += 'a:b=c '.repeat(1000);
  return s.slice(0, 1_048_576);
}

test('a 1 MB adversarial input scans in well under a second', () => {
  const text = adversarialInput();
  const recognizer = createSecretRecognizer();
  recognizer.detect('warm up AKIAIOSFODNN7ABCDEFG');
  const t0 = performance.now();
  recognizer.detect(text);
  const ms = performance.now() - t0;
  console.log(`secret scan of ${text.length} chars: ${ms.toFixed(1)} ms`);
  assert.ok(ms < 1000, `took ${ms} ms`);
});
