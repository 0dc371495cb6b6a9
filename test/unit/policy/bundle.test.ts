import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileBundle, PolicyBundleError, type BundleErrorCode } from '../../../src/policy/index.js';
import { bundleOf, CHAT_ON_PREM, MODELS } from './helpers.js';

function refused(code: BundleErrorCode, files: Record<string, string>): void {
  assert.throws(
    () => compileBundle(new Map(Object.entries(files))),
    (err: unknown) => err instanceof PolicyBundleError && err.code === code,
    code,
  );
}

describe('policy bundles', () => {
  it('compiles, lists policy ids and has a stable sha256 digest', () => {
    const a = bundleOf(CHAT_ON_PREM);
    const b = bundleOf(CHAT_ON_PREM);
    assert.match(a.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(a.digest, b.digest);
    assert.deepEqual(a.policyIds, ['chat']);
    assert.equal(a.entities.size, 5);
    assert.notEqual(bundleOf(CHAT_ON_PREM + '\n').digest, a.digest, 'content changes the digest');
    assert.notEqual(bundleOf(CHAT_ON_PREM, { 'tests/a.json': '[]' }).digest, a.digest, 'tests count');
  });

  it('refuses an empty bundle', () => {
    refused('policy.bundle_empty', {});
    refused('policy.bundle_empty', { 'p.cedar': '// nothing here\n', 'entities.json': '[]' });
  });

  it('refuses policies that do not parse, templates, and missing or duplicate ids', () => {
    refused('policy.parse_failed', { 'p.cedar': 'permit (principal, action, resource' });
    refused('policy.template_unsupported', {
      'p.cedar': '@id("t") permit (principal == ?principal, action, resource);',
    });
    refused('policy.id_missing', { 'p.cedar': 'permit (principal, action, resource);' });
    refused('policy.id_duplicate', {
      'a.cedar': '@id("x") permit (principal, action, resource);',
      'b.cedar': '@id("x") forbid (principal, action, resource);',
    });
  });

  it('refuses policies that do not validate against the schema', () => {
    refused('policy.validation_failed', {
      'p.cedar': '@id("x") permit (principal, action, resource) when { principal.salary > 3 };',
    });
    refused('policy.validation_failed', {
      'p.cedar': '@id("x") permit (principal, action == Ztgate::Action::"fly", resource);',
    });
    refused('policy.validation_failed', {
      'p.cedar': '@id("x") permit (principal, action, resource) when { context.risk == "high" };',
    });
  });

  it('refuses unknown or malformed obligations at load, and obligations on forbid', () => {
    refused('policy.obligation_invalid', {
      'p.cedar': '@id("x") @obligation("teleport:mars") permit (principal, action, resource);',
    });
    refused('policy.obligation_invalid', {
      'p.cedar': '@id("x") @obligation_cap("max_tokens:lots") permit (principal, action, resource);',
    });
    refused('policy.obligation_invalid', {
      'p.cedar': '@id("x") @obligation("retain:30d") forbid (principal, action, resource);',
    });
  });

  it('refuses a bad schema, entities that do not match it, and malformed tests', () => {
    refused('policy.schema_invalid', {
      'p.cedar': '@id("x") permit (principal, action, resource);',
      'schema.cedarschema': 'namespace {',
    });
    refused('policy.entities_invalid', { 'p.cedar': CHAT_ON_PREM, 'entities.json': '{' });
    refused('policy.entities_invalid', {
      'p.cedar': CHAT_ON_PREM,
      'entities.json': JSON.stringify([{ uid: { type: 'Ztgate::Model', id: 'm' }, attrs: {}, parents: [] }]),
    });
    refused('policy.tests_invalid', { 'p.cedar': CHAT_ON_PREM, 'tests/a.json': '[{"name": "x"}]' });
  });

  it('reads obligations per policy id, from several annotations and ;-lists', () => {
    const b = bundleOf(
      '@id("a") @obligation("max_tokens:5; require_approval") @obligation_r("retain:1d") ' +
        'permit (principal, action, resource);',
      { 'entities.json': MODELS },
    );
    assert.deepEqual(
      b.obligations.get('a')?.map((o) => o.kind),
      ['max_tokens', 'require_approval', 'retain'],
    );
  });
});
