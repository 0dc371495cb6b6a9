import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  formatObligation,
  mergeObligations,
  parseObligation,
  type ParsedObligation,
} from '../../../src/policy/index.js';

const parse = (text: string): ParsedObligation => {
  const p = parseObligation(text);
  if (typeof p === 'string') throw new Error(p);
  return p;
};
const merged = (...texts: string[]): string[] => {
  const r = mergeObligations(texts.map(parse));
  assert.ok(r.ok);
  return r.obligations.map(formatObligation);
};

describe('obligation grammar', () => {
  it('accepts every documented form', () => {
    for (const text of [
      'pseudonymize:PERSON,EMAIL_ADDRESS',
      'redact:US_SSN',
      'reveal:none',
      'reveal:all',
      'reveal:PERSON',
      'route:region=eu',
      'route:region=eu,eu-west-1',
      'max_tokens:1024',
      'retain:30d',
      'retain:12h',
      'require_approval',
    ]) {
      assert.equal(typeof parseObligation(text), 'object', text);
    }
  });

  it('rejects unknown kinds and malformed values', () => {
    for (const text of [
      'teleport:mars',
      'pseudonymize:',
      'pseudonymize:person',
      'redact:A,,B',
      'reveal:some',
      'route:eu',
      'route:region=',
      'route:region=EU',
      'max_tokens:0',
      'max_tokens:-1',
      'max_tokens:1.5',
      'max_tokens:99999999',
      'retain:30',
      'retain:0d',
      'retain:2w',
      'require_approval:yes',
      '',
    ]) {
      assert.equal(typeof parseObligation(text), 'string', text);
    }
  });
});

describe('obligation merge (strictest wins)', () => {
  it('unions pseudonymize and redact types; redact beats pseudonymize for a type', () => {
    assert.deepEqual(merged('pseudonymize:PERSON', 'pseudonymize:EMAIL_ADDRESS,PERSON', 'redact:PERSON'), [
      'pseudonymize:EMAIL_ADDRESS',
      'redact:PERSON',
    ]);
  });

  it('takes the minimum max_tokens and the shortest retention', () => {
    assert.deepEqual(merged('max_tokens:4096', 'max_tokens:1024', 'retain:2d', 'retain:36h'), [
      'max_tokens:1024',
      'retain:36h',
    ]);
  });

  it('intersects route regions and refuses an empty intersection', () => {
    assert.deepEqual(merged('route:region=eu,us', 'route:region=eu'), ['route:region=eu']);
    const r = mergeObligations([parse('route:region=eu'), parse('route:region=us')]);
    assert.deepEqual(r, { ok: false, error: 'policy.route_conflict' });
  });

  it('keeps the most restrictive reveal', () => {
    assert.deepEqual(merged('reveal:all', 'reveal:PERSON,EMAIL_ADDRESS'), ['reveal:EMAIL_ADDRESS,PERSON']);
    assert.deepEqual(merged('reveal:PERSON', 'reveal:EMAIL_ADDRESS'), ['reveal:none']);
    assert.deepEqual(merged('reveal:all', 'reveal:none', 'reveal:all'), ['reveal:none']);
    assert.deepEqual(merged('reveal:all'), ['reveal:all']);
  });

  it('requires approval when any policy does', () => {
    assert.deepEqual(merged('require_approval', 'max_tokens:10', 'require_approval'), [
      'max_tokens:10',
      'require_approval',
    ]);
  });

  it('does not depend on the order of the policies', () => {
    const pool = [
      'pseudonymize:PERSON',
      'redact:EMAIL_ADDRESS',
      'reveal:all',
      'reveal:PERSON',
      'reveal:none',
      'route:region=eu,us',
      'route:region=eu',
      'max_tokens:100',
      'max_tokens:50',
      'retain:1d',
      'retain:30d',
      'require_approval',
    ].map(parse);
    fc.assert(
      fc.property(fc.shuffledSubarray(pool), (subset) => {
        const forward = mergeObligations(subset);
        const backward = mergeObligations([...subset].reverse());
        assert.deepEqual(forward, backward);
      }),
    );
  });
});
