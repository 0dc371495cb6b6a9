import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/index.js';

function problems(yaml: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfig(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('config', () => {
  it('an empty document gives every default', () => {
    const config = parseConfig('');
    assert.equal(config.server.port, 8080);
    assert.equal(config.server.adminPort, 8081);
    assert.equal(config.limits.bodyBytes, 1024 * 1024);
    assert.equal(config.store.url, 'sqlite:ztgate.db');
    assert.equal(config.bus.url, 'memory:');
    assert.equal(config.demo.enabled, false);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.server));
  });

  it('rejects unknown keys, naming their path', () => {
    assert.deepEqual(problems('server:\n  prot: 1\n'), ['server.prot: unknown key']);
    assert.deepEqual(problems('bogus: 1\n'), ['bogus: unknown key']);
    const p = problems(`
upstreams:
  a: { kind: openai-compatible, baseUrl: "http://x/v1", timeouts: { connectMS: 5 } }
`);
    assert.deepEqual(p, ['upstreams.a.timeouts.connectMS: unknown key']);
  });

  it('names the path of a wrong value', () => {
    const p = problems('server:\n  port: 70000\n');
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^server\.port: /);
    assert.match(
      problems('models:\n  - { id: "a b", upstream: x, upstreamModel: y }\n')[0]!,
      /^models\[0\]\.id: /,
    );
  });

  it('accepts credentials only by reference', () => {
    const p = problems(`
upstreams:
  a: { kind: openai-compatible, baseUrl: "http://x/v1", apiKey: "sk-live-123" }
`);
    assert.match(p[0]!, /^upstreams\.a\.apiKey: must be a secret reference/);
    assert.deepEqual(
      problems(
        'upstreams:\n  a: { kind: openai-compatible, baseUrl: "http://x/v1", apiKey: "env:OPENAI_API_KEY" }\n',
      ),
      [],
    );
  });

  it('accepts only asymmetric JWT algorithms for issuers', () => {
    const p = problems(`
identity:
  issuers:
    - { issuer: "https://idp.example.com", audience: ztgate, algorithms: [HS256] }
`);
    assert.match(p[0]!, /^identity\.issuers\[0\]\.algorithms\[0\]: /);
    assert.match(
      problems(
        'identity:\n  issuers:\n    - { issuer: "https://idp.example.com", audience: ztgate, algorithms: [none] }\n',
      )[0]!,
      /algorithms/,
    );
  });

  it('checks that models name a configured upstream and ids are unique', () => {
    const p = problems(`
upstreams:
  a: { kind: openai-compatible, baseUrl: "http://x/v1" }
models:
  - { id: m, upstream: b, upstreamModel: y }
  - { id: m, upstream: a, upstreamModel: y }
`);
    assert.deepEqual(p, [
      'models[0].upstream: no upstream named "b" in upstreams',
      'models[1].id: duplicate model id "m"',
    ]);
  });

  it('applies documented environment overrides and command-line overrides', () => {
    const config = parseConfig(
      'store: { url: "sqlite:a.db" }\n',
      { ZTGATE_STORE_URL: 'sqlite:b.db', ZTGATE_LOG_LEVEL: 'warn' },
      {
        port: 9000,
        demo: true,
      },
    );
    assert.equal(config.store.url, 'sqlite:b.db');
    assert.equal(config.logging.level, 'warn');
    assert.equal(config.server.port, 9000);
    assert.equal(config.demo.enabled, true);
    assert.match(problems('', { ZTGATE_LOG_LEVEL: 'loud' })[0]!, /^logging\.level: /);
  });

  it('rejects YAML that is not a mapping, duplicate keys and alias bombs', () => {
    assert.match(problems('- a\n- b\n')[0]!, /top level/);
    assert.match(problems('server: {}\nserver: {}\n')[0]!, /not valid YAML/);
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)},*${String.fromCharCode(96 + i)}]`,
      );
    assert.ok(problems(bomb.join('\n') + '\n').length > 0);
  });
});
