import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_COOLDOWN_MS, parsePlaybooks, PlaybookError } from '../../../src/watch/playbook-schema.js';

const EXAMPLE = `
playbooks:
  - id: injection-attacker
    description: Quarantine an account that keeps trying prompt injection
    when:
      signal: injection
      count: { atLeast: 5, within: 10m }
      risk: { above: 70 }
      anomaly: burst
    subject: principal
    cooldown: 15m
    then:
      - quarantine: {}
      - quarantine: { for: 1h }
      - revoke: [sessions, tokens, api_keys]
      - rotate_key: { key: upstream-openai }
      - disable_runtime: { runtime: triggering }
      - require_approval: {}
      - notify: { webhook: https://hooks.example.com/ztgate, secret: env:HOOK_SECRET }
      - notify: { syslog: true }
  - id: canary-leak
    when: { signal: [canary_leak] }
    subject: workspace
    then:
      - quarantine: {}
`;

function problems(text: string): string[] {
  try {
    parsePlaybooks(text);
  } catch (err) {
    assert.ok(err instanceof PlaybookError);
    assert.match(err.message, /^invalid playbooks:\n {2}- /);
    return [...err.problems];
  }
  assert.fail('expected a PlaybookError');
}

const one = (when: string, then = '[{ quarantine: {} }]', extra = ''): string =>
  `playbooks:\n  - id: p\n    when: ${when}\n    subject: principal\n    then: ${then}\n${extra}`;

describe('parsePlaybooks', () => {
  it('parses the documented example into typed playbooks', () => {
    const [a, b] = parsePlaybooks(EXAMPLE);
    assert.equal(a?.id, 'injection-attacker');
    assert.deepEqual([...(a?.when.signals ?? [])], ['injection']);
    assert.deepEqual(a?.when.count, { atLeast: 5, withinMs: 600_000 });
    assert.equal(a?.when.riskAbove, 70);
    assert.equal(a?.when.anomaly, 'burst');
    assert.equal(a?.cooldownMs, 900_000);
    assert.deepEqual(a?.actions, [
      { kind: 'quarantine' },
      { kind: 'quarantine', forMs: 3_600_000 },
      { kind: 'revoke', what: ['sessions', 'tokens', 'api_keys'] },
      { kind: 'rotate_key', key: 'upstream-openai' },
      { kind: 'disable_runtime', runtime: 'triggering' },
      { kind: 'require_approval' },
      { kind: 'notify', webhook: 'https://hooks.example.com/ztgate', secret: 'env:HOOK_SECRET' },
      { kind: 'notify', syslog: true },
    ]);
    assert.equal(b?.subject, 'workspace');
    assert.equal(b?.cooldownMs, DEFAULT_COOLDOWN_MS);
    assert.ok(Object.isFrozen(a));
  });

  it('an unknown action names the action and its path', () => {
    assert.deepEqual(problems(one('{ signal: denial }', '[{ quarantine: {} }, { explode: {} }]')), [
      'playbooks[0].then[1].explode: unknown action "explode" (one of: quarantine, revoke, rotate_key, disable_runtime, require_approval, notify)',
    ]);
    assert.deepEqual(problems(one('{ signal: denial }', '[{ quarantine: {}, revoke: [tokens] }]')), [
      'playbooks[0].then[0]: each action is exactly one of: quarantine, revoke, rotate_key, disable_runtime, require_approval, notify',
    ]);
  });

  it('a bad duration', () => {
    assert.deepEqual(problems(one('{ signal: denial, count: { atLeast: 3, within: 10 minutes } }')), [
      'playbooks[0].when.count.within: must be a duration such as 90d, 12h, 30m or 45s',
    ]);
    assert.deepEqual(problems(one('{ signal: denial }', undefined, '    cooldown: 0m\n')), [
      'playbooks[0].cooldown: must be a duration such as 90d, 12h, 30m or 45s',
    ]);
  });

  it('a duplicate id, reported along with other problems', () => {
    const text = `playbooks:
  - { id: same, when: { signal: denial }, subject: principal, then: [{ quarantine: {} }] }
  - { id: same, when: { signal: nope }, subject: principal, then: [{ quarantine: {} }] }
`;
    const found = problems(text);
    assert.ok(found.includes('playbooks[1].id: duplicate playbook id "same"'), found.join('\n'));
    assert.equal(found.length, 2);
  });

  it('an unknown signal or anomaly type', () => {
    assert.deepEqual(problems(one('{ signal: [injection, telepathy] }')), [
      'playbooks[0].when.signal[1]: unknown signal type "telepathy" (one of: denial, injection, pii, secret, canary_leak, new_device, unusual_hour, burst, token_burn, unusual_model, unusual_data_class)',
    ]);
    const [p] = problems(one('{ anomaly: injection }'));
    assert.match(p ?? '', /^playbooks\[0\]\.when\.anomaly: unknown anomaly type "injection"/);
  });

  it('other mistakes: empty when, no actions, bad webhook, unknown key, bad subject, not YAML', () => {
    assert.deepEqual(problems(one('{}', '[]')), [
      'playbooks[0].when: needs at least one of signal, count, risk, anomaly',
      'playbooks[0].then: needs at least one action',
    ]);
    assert.deepEqual(
      problems(one('{ signal: denial }', '[{ notify: { webhook: "http://x.example", secret: "env:S" } }]')),
      ['playbooks[0].then[0].notify.webhook: must be an https:// URL'],
    );
    assert.deepEqual(
      problems(
        'playbooks:\n  - { id: w, when: { signal: canary_leak }, subject: workspace, then: [{ require_approval: {} }, { revoke: [tokens] }] }',
      ),
      [
        'playbooks[0].then[0]: require_approval needs subject: principal',
        'playbooks[0].then[1]: revoke needs subject: principal or session',
      ],
    );
    // Every webhook is signed; subject-bound actions are checked when the file loads.
    assert.deepEqual(problems(one('{ signal: denial }', '[{ notify: { webhook: "https://x.example" } }]')), [
      'playbooks[0].then[0].notify: must be { webhook: https://…, secret: env:NAME } or { syslog: true }',
    ]);
    assert.deepEqual(problems(one('{ signal: denial }', '[{ notify: { syslog: false } }]')), [
      'playbooks[0].then[0].notify: must be { webhook: https://…, secret: env:NAME } or { syslog: true }',
    ]);
    assert.deepEqual(problems(one('{ signal: denial, when: 1 }')), ['playbooks[0].when.when: unknown key']);
    assert.match(
      problems('playbooks:\n  - id: p\n    subject: tenant\n').join('\n'),
      /subject: must be one of/,
    );
    assert.match(problems('playbooks: [\n').join(''), /^not valid YAML/);
    assert.deepEqual(problems(''), ['playbooks: Invalid input: expected array, received undefined']);
  });
});
